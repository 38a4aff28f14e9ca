"""Asset templates an industry cloud carries for its member tenants.

The shipped templates (``tenants/asset_templates/*.yaml``) are the platform's; an
industry cloud's operator adds the machines of its vertical (a hot-runner controller for
mold makers, a reactor for petrochemicals) as documents of the same ``AssetTemplate``
shape, stored per cloud. A member tenant sees and onboards with both; nobody else sees
a cloud's own. A key the platform ships is refused, so a template key means one thing
to a tenant. Every change is in the audit log.

Assets keep their tags when the template they were made from changes or goes: onboarding
copies the tags, it does not link to the template.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from tenants.asset_onboarding import AssetConflict, AssetModelError, check_attributes
from tenants.asset_templates import AssetTemplate, shipped_templates
from tenants.db import Base
from tenants.models import AuditEvent, IndustryCloud, Tenant, utcnow

log = logging.getLogger(__name__)
Source = Literal["platform", "industry_cloud"]


class IndustryCloudTemplate(Base):
    """One template of one industry cloud; ``document`` is a valid ``AssetTemplate``."""

    __tablename__ = "industry_cloud_templates"
    # The unique constraint leads with the cloud, so it also serves "this cloud's templates".
    __table_args__ = (UniqueConstraint("industry_cloud_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    industry_cloud_id: Mapped[int] = mapped_column(
        ForeignKey("industry_clouds.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def template(self) -> AssetTemplate | None:
        """The document as a template; None (and a warning) for one a later, stricter
        model no longer accepts, so one stale row does not break a tenant's catalog."""
        try:
            return AssetTemplate.model_validate(self.document)
        except ValidationError as exc:
            log.warning(
                "industry cloud %s: stored template %r no longer validates: %s",
                self.industry_cloud_id, self.key, exc.errors()[0]["msg"],
            )  # fmt: skip
            return None


class ShippedKeyTaken(AssetConflict):
    """The key is a platform template's: a cloud may not shadow it."""


def cloud_template_rows(session: Session, industry_cloud_id: int) -> list[IndustryCloudTemplate]:
    """The cloud's stored templates by key."""
    return list(
        session.scalars(
            select(IndustryCloudTemplate)
            .where(IndustryCloudTemplate.industry_cloud_id == industry_cloud_id)
            .order_by(IndustryCloudTemplate.key)
        )
    )


def find_cloud_template(
    session: Session, industry_cloud_id: int, key: str
) -> IndustryCloudTemplate | None:
    return session.scalar(
        select(IndustryCloudTemplate).where(
            IndustryCloudTemplate.industry_cloud_id == industry_cloud_id,
            IndustryCloudTemplate.key == key,
        )
    )


def tenant_templates(session: Session, tenant: Tenant) -> dict[str, tuple[AssetTemplate, Source]]:
    """What ``tenant`` can onboard with: the shipped templates, then its cloud's.

    A shipped key always wins: a cloud cannot store one, but a later release may ship a
    key a cloud already used, and the platform's template is the one documented.
    """
    shipped = shipped_templates()
    found: dict[str, tuple[AssetTemplate, Source]] = {
        key: (template, "platform") for key, template in shipped.items()
    }
    if tenant.industry_cloud_id is not None:
        for row in cloud_template_rows(session, tenant.industry_cloud_id):
            template = row.template()
            if template is not None and row.key not in shipped:
                found[row.key] = (template, "industry_cloud")
    return found


def tenant_catalog(session: Session, tenant: Tenant) -> dict[str, AssetTemplate]:
    """``tenant_templates`` without the sources, as ``onboard_asset`` takes it."""
    return {key: template for key, (template, _) in tenant_templates(session, tenant).items()}


def put_cloud_template(
    session: Session, cloud: IndustryCloud, key: str, template: AssetTemplate, actor: str
) -> tuple[IndustryCloudTemplate, bool]:
    """Create or replace the cloud's template ``key``; True when it was created.

    Raises ShippedKeyTaken (409) for a platform template's key, AssetModelError (422, the
    body field at fault) for a document whose key is not ``key`` or whose attribute
    defaults onboarding would refuse, and AssetConflict (409) when another request made
    the same key at the same moment. Nothing is written then.
    """
    if key in shipped_templates():
        raise ShippedKeyTaken(
            ("key",),
            f"{key!r} is a platform template's key; a cloud's template needs a key of its own",
        )
    if template.key != key:
        raise AssetModelError(("key",), f"{template.key!r} differs from {key!r} in the path")
    # The same rules onboarding applies to attributes, so the defaults never yield an
    # asset that onboarding then refuses.
    check_attributes(dict(template.attributes), {}, "attributes")
    document = template.model_dump(mode="json", exclude_none=True)
    row = find_cloud_template(session, cloud.id, key)
    created = row is None
    if row is None:
        row = IndustryCloudTemplate(
            industry_cloud_id=cloud.id,
            key=key,
            document=document,
            created_by=actor,
            updated_by=actor,
        )
        try:
            with session.begin_nested():  # a savepoint: a lost race leaves the rest intact
                session.add(row)
        except IntegrityError:
            raise AssetConflict(
                ("key",), f"template {key!r} was just created by someone else: retry"
            ) from None
    else:
        row.document = document
        row.updated_by = actor
        row.updated_at = utcnow()
        session.flush()
    action = "industry_template.create" if created else "industry_template.update"
    _audit(session, cloud, actor, action, key, {"tags": len(template.tags)})
    return row, created


def delete_cloud_template(
    session: Session, cloud: IndustryCloud, row: IndustryCloudTemplate, actor: str
) -> None:
    """The template goes; assets made from it keep their tags (onboarding copied them)."""
    key = row.key
    session.delete(row)
    session.flush()
    _audit(session, cloud, actor, "industry_template.delete", key, {})


def _audit(
    session: Session, cloud: IndustryCloud, actor: str, action: str, key: str, extra: dict
) -> None:
    # No tenant: the change is the cloud's, like industry_cloud.create.
    detail = {"industry_cloud": cloud.key, "template": key, **extra}
    session.add(AuditEvent(actor=actor, tenant_id=None, action=action, detail=detail))
