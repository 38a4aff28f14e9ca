"""``/api/tenants/{key}/assets``: a tenant's asset model, its templates and the edge-agent
config of a site.

TenantScope decides: whoever may read the tenant's raw data (its own people, a platform
admin, an industry operator the tenant granted) reads the model; its admin and platform
admins change it. Anyone else gets the same 404 whether or not the tenant exists, and an
agent token gets 403: agents only send data.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from cloud.principals import DbSession, Scope, readable_tenant, require_person
from cloud.site_agent_config import NothingToRead, render_yaml, site_agent_config
from historian.durations import parse_duration
from tenants.asset_addressing import AddressError
from tenants.asset_model import Asset, Line, Site, check_key, unknown_series
from tenants.asset_onboarding import (
    AssetModelError,
    AssetOnboarding,
    AssetPatch,
    delete_asset,
    find_asset,
    onboard_asset,
    update_asset,
)
from tenants.industry_templates import tenant_catalog, tenant_templates
from tenants.models import Tenant
from tenants.scope import Principal

# A NaN in a body gets a sendable 422 from cloud.validation_errors, installed on the app.
router = APIRouter(prefix="/api/tenants/{key}", tags=["assets"])
Person = Annotated[Principal, Depends(require_person)]


class TagOut(BaseModel):
    key: str
    unit: str
    kind: str
    low: float | None
    high: float | None
    meaning: str
    role: str | None
    states: dict[str, Any] | None
    source: dict[str, Any]


class AssetOut(BaseModel):
    site: str
    line: str
    key: str
    name: str
    asset_type: str
    attributes: dict[str, Any]
    digital_control: bool
    address: dict[str, Any] | None
    tags: list[TagOut]


class LineOut(BaseModel):
    key: str
    name: str
    assets: list[AssetOut]


class SiteOut(BaseModel):
    key: str
    name: str
    district: str | None
    lines: list[LineOut]


def _could_exist(*keys: str) -> bool:
    """False for a key the model cannot hold (PostgreSQL even refuses to compare a NUL):
    such a lookup is a plain 404, not a query."""
    try:
        for key in keys:
            check_key("key", key, path_segment=True)
    except ValueError:
        return False
    return True


def _readable(session: DbSession, key: str, scope: Scope) -> Tenant:
    return readable_tenant(session, key, scope, "whose asset model you may see")


def _managed(session: DbSession, key: str, scope: Scope) -> Tenant:
    tenant = _readable(session, key, scope)
    if not scope.can_manage(tenant.id):
        # They may see this tenant, so saying why leaks nothing.
        raise HTTPException(403, "only the tenant's admin or a platform admin changes assets")
    return tenant


def refused(exc: AssetModelError) -> HTTPException:
    """The answer to a refused asset-model change (the industry templates' API gives it too)."""
    if exc.status == 422:
        # The shape of FastAPI's own validation errors, so clients read one format.
        detail: Any = [{"loc": ["body", *exc.loc], "msg": exc.message, "type": "value_error"}]
        return HTTPException(422, detail)
    return HTTPException(exc.status, str(exc))


def _asset_out(asset: Asset) -> AssetOut:
    return AssetOut(
        site=asset.line.site.key,
        line=asset.line.key,
        key=asset.key,
        name=asset.name,
        asset_type=asset.asset_type,
        attributes=asset.attributes or {},
        digital_control=asset.digital_control,
        address=asset.connection,
        tags=[TagOut.model_validate(t, from_attributes=True) for t in asset.tags],
    )


def _asset(session: DbSession, tenant: Tenant, site: str, line: str, asset: str) -> Asset:
    found = (
        find_asset(session, tenant.id, site, line, asset)
        if _could_exist(site, line, asset)
        else None
    )
    if found is None:
        raise HTTPException(404, f"no asset {asset!r} on line {line!r} of site {site!r}")
    return found


@router.get("/templates")
def list_templates(key: str, session: DbSession, scope: Scope, caller: Person) -> list[dict]:
    """The asset templates this tenant can onboard machines with: the platform's
    (``source: platform``) and its industry cloud's (``source: industry_cloud``)."""
    tenant = _readable(session, key, scope)
    return [
        {**t.summary(), "source": source}
        for t, source in tenant_templates(session, tenant).values()
    ]


@router.get("/templates/{template}")
def get_template(key: str, template: str, session: DbSession, scope: Scope, caller: Person) -> dict:
    tenant = _readable(session, key, scope)
    found = tenant_templates(session, tenant).get(template)
    if found is None:
        raise HTTPException(404, f"no template {template!r}")
    return found[0].model_dump(mode="json", exclude_none=True)


@router.post("/assets", response_model=AssetOut, status_code=201)
def onboard(
    key: str, body: AssetOnboarding, session: DbSession, scope: Scope, caller: Person
) -> AssetOut:
    """Onboard a machine in one call: its site and line are made when missing."""
    tenant = _managed(session, key, scope)
    try:
        asset = onboard_asset(session, tenant, body, caller.name, tenant_catalog(session, tenant))
    except AssetModelError as exc:
        raise refused(exc) from None
    return _asset_out(asset)


@router.get("/assets", response_model=list[SiteOut])
def asset_tree(
    key: str,
    session: DbSession,
    scope: Scope,
    caller: Person,
    site: Annotated[str | None, Query(description="Only this site.")] = None,
) -> list[SiteOut]:
    """Sites, their lines, their assets and each asset's tags."""
    tenant = _readable(session, key, scope)
    query = (
        select(Site)
        .where(Site.tenant_id == tenant.id)
        .order_by(Site.id)
        .options(selectinload(Site.lines).selectinload(Line.assets).selectinload(Asset.tags))
    )
    if site is not None:
        if not _could_exist(site):
            return []
        query = query.where(Site.key == site)
    return [
        SiteOut(
            key=s.key,
            name=s.name,
            district=s.district,
            lines=[
                LineOut(
                    key=line.key,
                    name=line.name,
                    assets=[_asset_out(a) for a in sorted(line.assets, key=lambda a: a.id)],
                )
                for line in sorted(s.lines, key=lambda x: x.id)
            ],
        )
        for s in session.scalars(query)
    ]


class UnknownSeriesOut(BaseModel):
    site: str
    line: str
    asset: str
    tag: str
    kind: str
    last_time_ns: int


@router.get("/unknown-series", response_model=list[UnknownSeriesOut])
def list_unknown_series(
    key: str, request: Request, session: DbSession, scope: Scope, caller: Person
) -> list[UnknownSeriesOut]:
    """Series the tenant's agents sent that its asset model does not have (accepted while
    the tenant's ``unknown_tags`` setting is ``accept``): what to onboard or to remove."""
    tenant = _readable(session, key, scope)
    historian = request.app.state.storage.historian(tenant.storage_database)
    stored = {info.key: info for info in historian.list_series()}
    return [
        UnknownSeriesOut(
            site=k.site,
            line=k.line,
            asset=k.asset,
            tag=k.tag,
            kind=stored[k].kind.value,
            last_time_ns=stored[k].last_timestamp_ns,
        )
        for k in unknown_series(session, tenant.id, stored)
    ]


@router.get("/assets/{site}/{line}/{asset}", response_model=AssetOut)
def get_asset(
    key: str, site: str, line: str, asset: str, session: DbSession, scope: Scope, caller: Person
) -> AssetOut:
    tenant = _readable(session, key, scope)
    return _asset_out(_asset(session, tenant, site, line, asset))


@router.patch("/assets/{site}/{line}/{asset}", response_model=AssetOut)
def change_asset(
    key: str,
    site: str,
    line: str,
    asset: str,
    body: AssetPatch,
    session: DbSession,
    scope: Scope,
    caller: Person,
) -> AssetOut:
    """Name, attributes, digital control, tag limits, units, meanings and the address."""
    tenant = _managed(session, key, scope)
    found = _asset(session, tenant, site, line, asset)
    try:
        update_asset(session, tenant, found, body, caller.name, tenant_catalog(session, tenant))
    except AssetModelError as exc:
        raise refused(exc) from None
    return _asset_out(found)


@router.delete("/assets/{site}/{line}/{asset}", status_code=204)
def remove_asset(
    key: str, site: str, line: str, asset: str, session: DbSession, scope: Scope, caller: Person
) -> Response:
    tenant = _managed(session, key, scope)
    delete_asset(session, tenant, _asset(session, tenant, site, line, asset), caller.name)
    return Response(status_code=204)


@router.get(
    "/sites/{site}/agent-config",
    response_class=Response,
    responses={200: {"content": {"text/yaml": {}}, "description": "The agent's YAML config."}},
)
def agent_config(
    key: str,
    site: str,
    request: Request,
    session: DbSession,
    scope: Scope,
    caller: Person,
    interval: Annotated[str, Query(description="Poll interval: 500ms, 1s, 1m …")] = "1s",
    cloud_url: Annotated[
        str | None, Query(description="Where the agent sends data; default this server.")
    ] = None,
) -> Response:
    """An edge-agent config reading every connected asset of the site (YAML)."""
    tenant = _readable(session, key, scope)
    try:
        interval_s = parse_duration(interval)
    except ValueError as exc:
        raise HTTPException(
            422, [{"loc": ["query", "interval"], "msg": str(exc), "type": "value_error"}]
        ) from None
    url = (cloud_url or str(request.base_url)).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise HTTPException(
            422,
            [
                {
                    "loc": ["query", "cloud_url"],
                    "msg": f"must start with http:// or https://, got {url!r}",
                    "type": "value_error",
                }
            ],
        )
    found = (
        session.scalar(
            select(Site)
            .where(Site.tenant_id == tenant.id, Site.key == site)
            .options(selectinload(Site.lines).selectinload(Line.assets).selectinload(Asset.tags))
        )
        if _could_exist(site)
        else None
    )
    if found is None:
        raise HTTPException(404, f"no site {site!r} in this tenant's asset model")
    try:
        config, left_out = site_agent_config(found, url, interval_s)
    except NothingToRead as exc:
        raise HTTPException(409, str(exc)) from None
    except AddressError as exc:  # an address stored before a rule tightened
        raise HTTPException(409, f"cannot address a tag: {exc}") from None
    text = render_yaml(config, left_out, tenant.key)
    return Response(
        text,
        media_type="text/yaml; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="agent.yaml"'},
    )
