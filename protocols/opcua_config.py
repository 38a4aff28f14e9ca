"""From an agent's OPC UA device section to the driver's settings objects.

Duck-typed on the section's attribute names so that ``protocols`` never imports
``edge_agent`` (dependencies point one way); the agent's config models have them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from protocols.opcua_security import ClientSecurity
from protocols.opcua_subscription import SubscriptionSettings


def client_security(device: Any, base_dir: Path | None = None) -> ClientSecurity:
    """``security:``, ``username`` and ``password`` -> ClientSecurity (ValueError if wrong).

    Relative certificate paths start at ``base_dir`` (the config file's folder), so an
    agent finds its certificates whatever directory a service manager starts it in.
    """

    def _path(value: str | None) -> Path | None:
        if not value:
            return None
        path = Path(value)
        return path if path.is_absolute() or base_dir is None else base_dir / path

    s = device.security
    return ClientSecurity(
        policy=s.policy,
        mode=s.mode,
        certificate=_path(s.certificate),
        private_key=_path(s.private_key),
        trust_dir=_path(s.trust_dir),
        username=device.username,
        password=device.password,
        user_certificate=_path(s.user_certificate),
        user_private_key=_path(s.user_private_key),
    )


def subscription_settings(device: Any) -> SubscriptionSettings:
    """``subscription:`` -> SubscriptionSettings."""
    s = device.subscription
    return SubscriptionSettings(
        publishing_interval=s.publishing_interval,
        sampling_interval=s.sampling_interval,
        queue_size=s.queue_size,
        deadband_type=s.deadband_type,
        deadband_value=s.deadband_value,
    )
