"""From a device's config section to a protocol driver and the series its tags feed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from edge_agent.config import DeviceConfig, ModbusDeviceConfig, OpcUaDeviceConfig
from historian import SeriesKey
from protocols.sample import Sample


class Driver(Protocol):
    """What the poller needs from a protocol driver. Drivers that can be subscribed to
    (OPC UA) also offer ``subscribe() -> AsyncIterator[list[Sample]]``."""

    @property
    def endpoint(self) -> str: ...

    async def connect(self) -> None: ...

    async def read(self) -> list[Sample]: ...

    async def close(self) -> None: ...


def driver_for(device: DeviceConfig, base_dir: Path | None = None) -> Driver:
    """A driver for the device; imported lazily so an agent loads only what it uses.

    ``base_dir`` anchors relative file paths in the device's section (certificates)."""
    if isinstance(device, OpcUaDeviceConfig):
        from protocols.opcua_config import client_security, subscription_settings
        from protocols.opcua_driver import OpcUaDriver, OpcUaTag

        return OpcUaDriver(
            device.endpoint,
            [
                OpcUaTag(key, tag.node, tag.path)
                for key, tag in zip(_driver_keys(device), device.all_tags(), strict=True)
            ],
            timeout=device.timeout,
            max_nodes_per_read=device.max_nodes_per_read,
            timestamp=device.timestamp,
            security=client_security(device, base_dir),
            subscription=subscription_settings(device),
            watchdog_interval=device.watchdog_interval,
        )
    if isinstance(device, ModbusDeviceConfig):
        from protocols.modbus_driver import ModbusDriver, ModbusTag
        from protocols.modbus_transport import SerialSettings

        serial = device.serial
        return ModbusDriver(
            device.host or "",
            device.port,
            device.unit_id,
            [
                ModbusTag(
                    key,
                    tag.table,
                    tag.address,
                    tag.type,
                    tag.order,
                    tag.scale,
                    tag.offset,
                    bit=tag.bit,
                    length=tag.length,
                )
                for key, tag in zip(_driver_keys(device), device.all_tags(), strict=True)
            ],
            timeout=device.timeout,
            max_gap=device.max_gap,
            max_registers=device.max_registers,
            transport=device.transport,
            serial=SerialSettings(**serial.model_dump()) if serial else None,
            max_bits=device.max_bits,
            retries=device.retries,
            retry_backoff=device.retry_backoff,
            request_pause=device.request_pause,
            max_concurrent=device.max_concurrent,
            interval=device.interval,
            degrade_after=device.degrade_after,
            max_degraded_interval=device.max_degraded_interval,
        )
    raise TypeError(f"no driver for protocol {device.protocol!r}")


def _driver_keys(device: DeviceConfig) -> list[str]:
    """A name per tag that is unique within the device and reads well in driver errors.

    One PLC often serves several assets with the same tag names (three stations, each
    with a cycle_count), so the driver sees ``ST-01.cycle_count``, not ``cycle_count``.
    """
    tags = device.all_tags()
    keys = [f"{tag.asset or device.asset}.{tag.name}" for tag in tags]
    if len(set(keys)) != len(keys):
        keys = [f"{tag.line or device.line}.{key}" for key, tag in zip(keys, tags, strict=True)]
    return keys


def tag_settings(device: DeviceConfig, field: str) -> dict[str, Any]:
    """Driver tag name → one per-tag setting (e.g. its deadband)."""
    tags = device.all_tags()
    return {key: getattr(tag, field) for key, tag in zip(_driver_keys(device), tags, strict=True)}


def series_for(device: DeviceConfig, site: str) -> dict[str, SeriesKey]:
    """Driver tag name → the series it is stored under (the config is validated: all set)."""
    return {
        key: SeriesKey(
            site=site,
            line=tag.line or device.line or "",
            asset=tag.asset or device.asset or "",
            tag=tag.name,
        )
        for key, tag in zip(_driver_keys(device), device.all_tags(), strict=True)
    }
