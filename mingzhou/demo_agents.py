"""The demo's edge agents, managed from the cloud as a factory's would be.

Each plant's agent is registered in its tenant with the config the demo generates; the
agent fetches it from the cloud, keeps a copy in the data folder, and reports its status,
so the tenant's agents page shows it live.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.agent_config_check import check_agent_config
from edge_agent.cloud_config import AgentCloudClient, ConfigCache
from edge_agent.cloud_managed import CloudManagedAgent
from mingzhou.demo_tenants import ACTOR, DemoTenant
from tenants.agent_registry import register_agent, set_desired_config
from tenants.models import AgentToken, Tenant

# Short, so that a config changed in the cloud or a stopped agent shows within seconds.
POLL_SECONDS = 5.0
REPORT_SECONDS = 5.0


def agent_name(site: str) -> str:
    return f"{site}-edge"


def register_demo_agents(
    session: Session, tenants: list[DemoTenant], configs: Mapping[str, str]
) -> None:
    """Bind each tenant's agent to its fresh token and set its config (industry -> YAML).

    Raises ValueError if a generated config is invalid: a bug in the demo, never data.
    """
    for demo in tenants:
        tenant = session.scalar(select(Tenant).where(Tenant.key == demo.key))
        assert tenant is not None
        # seed() revoked every older token and issued one: the tenant's only active one.
        token = session.scalar(
            select(AgentToken)
            .where(AgentToken.tenant_id == tenant.id, AgentToken.revoked_at.is_(None))
            .order_by(AgentToken.id.desc())
        )
        assert token is not None
        name, text = agent_name(token.site), configs[demo.industry]
        if issues := check_agent_config(text, name, token.site):
            raise ValueError("\n".join(str(issue) for issue in issues))
        set_desired_config(session, register_agent(session, token, name, ACTOR), text, ACTOR)


def cloud_managed_agent(
    cloud_url: str, data_dir: Path, demo: DemoTenant, environ: Mapping[str, str]
) -> CloudManagedAgent:
    """The agent of ``demo``'s plant; its cached config is ``<industry>-agent.yaml``."""
    return CloudManagedAgent(
        AgentCloudClient(cloud_url, demo.token),
        ConfigCache(data_dir / f"{demo.industry}-agent.yaml"),
        poll_interval=POLL_SECONDS,
        report_interval=REPORT_SECONDS,
        environ=environ,
    )
