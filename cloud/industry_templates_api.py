"""``/api/industry-clouds/{cloud}/templates``: the asset templates an industry cloud
carries for its member tenants (``tenants.industry_templates``).

TenantScope decides: the cloud's operators and platform admins list, read and change
them; the people of its member tenants list and read them. Anyone else gets the same
404 whether or not the cloud exists (as ``/industry/{cloud}`` answers), a member's
person who tries to change one gets 403 (they may see it, so saying why leaks nothing),
and an agent token gets 403: agents only send data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Response
from pydantic import BaseModel
from sqlalchemy import select

from cloud.assets_api import refused
from cloud.principals import DbSession, Scope, require_person
from tenants.asset_onboarding import AssetModelError
from tenants.asset_templates import AssetTemplate
from tenants.industry_templates import (
    IndustryCloudTemplate,
    cloud_template_rows,
    delete_cloud_template,
    find_cloud_template,
    put_cloud_template,
)
from tenants.models import IndustryCloud
from tenants.scope import Principal

router = APIRouter(prefix="/api/industry-clouds/{cloud}", tags=["industry clouds"])
Person = Annotated[Principal, Depends(require_person)]


class CloudTemplateSummary(BaseModel):
    key: str
    name: dict[str, str]
    description: str
    tags: list[str]
    source: str
    updated_by: str
    updated_at: datetime


def _readable(session: DbSession, key: str, scope: Scope) -> IndustryCloud:
    cloud = None
    if "\x00" not in key:  # PostgreSQL refuses even to compare a NUL
        cloud = session.scalar(select(IndustryCloud).where(IndustryCloud.key == key))
    # The same answer for "no such cloud" and "not yours": cloud keys are not to be probed.
    if cloud is None or not scope.can_read_industry_cloud(cloud.id):
        raise HTTPException(404, f"no industry cloud {key!r} whose templates you may see")
    return cloud


def _operated(session: DbSession, key: str, scope: Scope) -> IndustryCloud:
    cloud = _readable(session, key, scope)
    if not scope.can_operate_industry_cloud(cloud.id):
        raise HTTPException(
            403, "only the industry cloud's operator or a platform admin changes its templates"
        )
    return cloud


def _row(session: DbSession, cloud: IndustryCloud, template: str) -> IndustryCloudTemplate:
    row = None if "\x00" in template else find_cloud_template(session, cloud.id, template)
    if row is None:
        raise HTTPException(404, f"industry cloud {cloud.key!r} has no template {template!r}")
    return row


@router.get("/templates", response_model=list[CloudTemplateSummary])
def list_cloud_templates(
    cloud: str, session: DbSession, scope: Scope, caller: Person
) -> list[CloudTemplateSummary]:
    """The cloud's own templates (its members also get the platform's, on
    ``/api/tenants/{key}/templates``)."""
    found = _readable(session, cloud, scope)
    out = []
    for row in cloud_template_rows(session, found.id):
        template = row.template()
        if template is None:  # stored under an older model: logged, left out
            continue
        out.append(
            CloudTemplateSummary(
                **template.summary(),
                source="industry_cloud",
                updated_by=row.updated_by,
                updated_at=row.updated_at,
            )
        )
    return out


@router.get("/templates/{template}")
def get_cloud_template(
    cloud: str, template: str, session: DbSession, scope: Scope, caller: Person
) -> dict[str, Any]:
    """The template document, as PUT takes it."""
    row = _row(session, _readable(session, cloud, scope), template)
    parsed = row.template()
    if parsed is None:
        raise HTTPException(409, f"template {template!r} no longer validates: PUT it again")
    return parsed.model_dump(mode="json", exclude_none=True)


@router.put("/templates/{template}", responses={201: {"description": "Created."}})
def put_cloud_template_route(
    cloud: str,
    template: str,
    body: Annotated[AssetTemplate, Body(description="An asset template; its key is the path's.")],
    response: Response,
    session: DbSession,
    scope: Scope,
    caller: Person,
) -> dict[str, Any]:
    """Create (201) or replace (200) the cloud's template; 409 for a key the platform
    ships, 422 naming the field for a bad document."""
    found = _operated(session, cloud, scope)
    try:
        row, created = put_cloud_template(session, found, template, body, caller.name)
    except AssetModelError as exc:
        raise refused(exc) from None
    response.status_code = 201 if created else 200
    return dict(row.document)


@router.delete("/templates/{template}", status_code=204)
def delete_cloud_template_route(
    cloud: str, template: str, session: DbSession, scope: Scope, caller: Person
) -> Response:
    """Assets onboarded from it keep their tags."""
    found = _operated(session, cloud, scope)
    delete_cloud_template(session, found, _row(session, found, template), caller.name)
    return Response(status_code=204)
