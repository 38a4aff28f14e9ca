"""Errors a driver raises; per-tag read failures are BAD Samples, not exceptions."""

from __future__ import annotations


class DriverError(Exception):
    """Something went wrong talking to a device."""


class DriverConnectionError(DriverError):
    """The device cannot be reached or the session broke; the caller should reconnect.

    Raised for refused or lost connections and timeouts. The agent owns the reconnect
    policy (backoff, availability), so drivers never retry on their own.
    """
