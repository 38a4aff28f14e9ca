"""Prometheus metrics of a running agent, read from its counters at scrape time.

A collector that reads the pollers', forwarders' and buffer's own statistics keeps one
source of truth: nothing is counted twice, and a scrape never sees a half-updated set.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from edge_agent.agent import EdgeAgent


class AgentCollector(Collector):
    def __init__(self, agent: EdgeAgent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        agent = self.agent
        device = ["device"]
        reads = CounterMetricFamily("mingzhou_edge_reads", "Completed poll cycles.", labels=device)
        read_seconds = CounterMetricFamily(
            "mingzhou_edge_read_seconds",
            "Time spent in reads (divide by reads for latency).",
            labels=device,
        )
        last_read = GaugeMetricFamily(
            "mingzhou_edge_last_read_seconds", "Latency of the last read.", labels=device
        )
        samples = CounterMetricFamily("mingzhou_edge_samples", "Good samples read.", labels=device)
        suppressed = CounterMetricFamily(
            "mingzhou_edge_samples_suppressed",
            "Samples not sent: inside their deadband.",
            labels=device,
        )
        errors = CounterMetricFamily(
            "mingzhou_edge_errors", "Errors by kind.", labels=["device", "kind"]
        )
        connected = GaugeMetricFamily(
            "mingzhou_edge_device_connected", "1 when connected.", labels=device
        )
        for name, poller in agent.pollers.items():
            stats = poller.stats
            reads.add_metric([name], stats.reads)
            read_seconds.add_metric([name], stats.read_seconds)
            last_read.add_metric([name], stats.last_read_seconds)
            samples.add_metric([name], stats.samples)
            suppressed.add_metric([name], stats.suppressed)
            errors.add_metric([name, "connection"], stats.connection_errors)
            errors.add_metric([name, "bad_sample"], stats.bad_samples)
            errors.add_metric([name, "overrun"], stats.overruns)
            connected.add_metric([name], 1 if stats.connected else 0)
        yield from (reads, read_seconds, last_read, samples, suppressed, errors, connected)

        output = ["output"]
        sent = CounterMetricFamily(
            "mingzhou_edge_samples_out", "Points the output accepted.", labels=output
        )
        rejected = CounterMetricFamily(
            "mingzhou_edge_rejected", "Points the output refused for good.", labels=output
        )
        failures = CounterMetricFamily(
            "mingzhou_edge_output_failures", "Failed writes (retried).", labels=output
        )
        write_seconds = CounterMetricFamily(
            "mingzhou_edge_output_write_seconds", "Time spent in successful writes.", labels=output
        )
        depth = GaugeMetricFamily(
            "mingzhou_edge_buffer_points", "Points waiting for the output.", labels=output
        )
        age = GaugeMetricFamily(
            "mingzhou_edge_buffer_oldest_seconds", "Age of the oldest point waiting.", labels=output
        )
        dropped = CounterMetricFamily(
            "mingzhou_edge_buffer_dropped",
            "Points dropped unsent by the buffer's bounds.",
            labels=output,
        )
        for forwarder in agent.forwarders:
            name = forwarder.output.name
            backlog = agent.buffer.backlog(name)
            sent.add_metric([name], forwarder.stats.delivered)
            rejected.add_metric([name], forwarder.stats.rejected)
            failures.add_metric([name], forwarder.stats.failures)
            write_seconds.add_metric([name], forwarder.stats.write_seconds)
            depth.add_metric([name], backlog.points)
            age.add_metric([name], backlog.oldest_age_s)
            dropped.add_metric([name], backlog.dropped)
        yield from (sent, rejected, failures, write_seconds, depth, age, dropped)
        size = GaugeMetricFamily("mingzhou_edge_buffer_bytes", "Size of the buffered data.")
        size.add_metric([], agent.buffer.size_bytes)
        yield size
