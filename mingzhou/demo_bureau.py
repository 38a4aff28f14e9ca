"""The demo's economic bureau: a report of the current month, started a little after the
demo starts (once the agents have sent data), so the bureau analyst's page shows the
three factories' facts.

Three enterprises are fewer than k = 5: every figure is suppressed, and the page says so
and offers the synthetic region (clearly marked) to show what a full region looks like.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from analytics.bureau.aggregation import DEFAULT_K
from analytics.bureau.platform_facts import BUREAU_TIMEZONE
from analytics.bureau.report_job import create_run_jobs, send_run

log = logging.getLogger(__name__)

DELAY_S = 20.0  # the agents' first batches have arrived by then
ACTOR = "make demo"


def start_current_month_report(app: Any) -> str:
    """Start the bureau's report of this month for every tenant; returns the run's key."""
    period = datetime.now(ZoneInfo(BUREAU_TIMEZONE)).strftime("%Y-%m")
    with app.state.sessions() as session:
        started = create_run_jobs(session, app.state.jobs.catalog, period, DEFAULT_K, ACTOR)
        session.commit()
    send_run(app.state.jobs, app.state.sessions, started)
    return started.key


async def report_after_start(app: Any, stop: asyncio.Event, delay_s: float = DELAY_S) -> None:
    """Wait ``delay_s`` (or until the demo stops), then start the month's report."""
    try:
        await asyncio.wait_for(stop.wait(), delay_s)
        return  # stopped first
    except TimeoutError:
        pass
    try:
        key = await asyncio.to_thread(start_current_month_report, app)
        log.info("bureau: started the report run %s of this month", key)
    except Exception:  # the demo goes on without it; the page can start one
        log.exception("bureau: could not start this month's report")
