"""Process plumbing shared by the long-running commands: logging and clean stops."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

QUIET_LOGGERS = ("asyncua", "pymodbus", "httpx", "uvicorn.access")


def configure_logging(level: str = "INFO", form: str = "text") -> None:
    """One line per event on stderr, as text for people or JSON for a log collector;
    chatty libraries are turned down to warnings."""
    handler = logging.StreamHandler(sys.stderr)
    if form == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
            )
        )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def run_until_signalled(main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run ``main(stop)`` until it returns; SIGINT or SIGTERM sets ``stop``.

    Ctrl-C therefore ends in an orderly shutdown (outputs flushed, servers closed)
    instead of a KeyboardInterrupt traceback from wherever the loop happened to be.
    """

    async def wrapper() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(wrapper())
