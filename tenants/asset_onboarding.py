"""Onboarding a machine in one call, and changing or removing it later.

One request names the site, line and asset, the template and how the edge agent reaches
the machine; the site and line are made when missing. Everything is checked before
anything is written, and every refusal names the request field at fault, so the API can
answer 422 with that field and the demo can seed its plants through the same function.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenants.asset_addressing import (
    AddressError,
    Connection,
    ModbusConnection,
    OpcUaConnection,
    agent_tag_address,
    parse_connection,
)
from tenants.asset_model import Asset, Line, Site, TagDef, check_key
from tenants.asset_templates import AssetTemplate, Number, TagSpec, Text, shipped_templates
from tenants.models import AuditEvent, Tenant

Loc = tuple[str | int, ...]


class AssetModelError(Exception):
    """A request that cannot be carried out; ``loc`` is the request field at fault."""

    status = 422

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {message}" if loc else message)
        self.loc, self.message = loc, message


class AssetConflict(AssetModelError):
    """The asset exists already (or was made at the same moment by someone else)."""

    status = 409


class PlanQuotaExceeded(AssetModelError):
    """The tenant's plan allows no more series."""

    status = 400


def _path_key(what: str):
    return AfterValidator(lambda v: check_key(what, v, path_segment=True))


SiteKey = Annotated[str, _path_key("site")]
LineKey = Annotated[str, _path_key("line")]
AssetKey = Annotated[str, _path_key("asset")]
DisplayName = Annotated[Text(200, min_length=1), Field(pattern=r"\S")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TagLimits(_Strict):
    low: Number | None = None
    high: Number | None = None


class AssetOnboarding(_Strict):
    """Everything to make one machine known to the platform."""

    site: SiteKey
    line: LineKey
    asset: AssetKey
    template: str = Field(description="A template key, e.g. injection_moulding_machine.")
    name: DisplayName | None = Field(default=None, description="Default: the asset key.")
    site_name: DisplayName | None = Field(default=None, description="When the site is new.")
    district: Text(100) | None = Field(default=None, description="When the site is new.")
    line_name: DisplayName | None = Field(default=None, description="When the line is new.")
    attributes: dict[str, JsonValue] = Field(
        default_factory=dict, description="Over the template's defaults."
    )
    digital_control: bool | None = Field(default=None, description="Default: the template's.")
    tags: list[str] | None = Field(
        default=None, description="Only these of the template's tags (default: all)."
    )
    extra_tags: list[TagSpec] = Field(default_factory=list, description="Beyond the template.")
    limits: dict[str, TagLimits] = Field(
        default_factory=dict, description="Tag key -> low/high over the template's."
    )
    address: Connection | None = Field(
        default=None, description="How the edge agent reaches it; none: no agent reads it."
    )


class TagPatch(_Strict):
    low: Number | None = None
    high: Number | None = None
    unit: Text(40) | None = None
    meaning: Text(500) | None = None


class AssetPatch(_Strict):
    """Only the fields sent change; ``null`` clears a limit or removes an attribute."""

    name: DisplayName | None = None
    attributes: dict[str, JsonValue] | None = None
    digital_control: bool | None = None
    tags: dict[str, TagPatch] | None = None
    address: Connection | None = None


# Attributes analytics divides by: a zero or negative value would poison every KPI.
_POSITIVE_ATTRIBUTES = ("ideal_cycle_time_s", "rated_power_kw")


def check_attributes(
    attributes: dict[str, Any], defaults: dict[str, Any], where: str
) -> dict[str, Any]:
    """The attributes, checked against the defaults' kinds (an industry template's own
    attributes are checked by the same rule); AssetModelError names the first bad one."""
    for name, value in attributes.items():
        loc: Loc = (where, name)
        if not name.strip() or len(name) > 64:
            raise AssetModelError(loc, "an attribute name has 1 to 64 characters")
        default = defaults.get(name)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise AssetModelError(loc, f"expected true or false, got {value!r}")
        if isinstance(default, int | float) and not isinstance(default, bool) and not is_number:
            raise AssetModelError(loc, f"expected a number (the template's default is {default})")
        if isinstance(default, str) and not isinstance(value, str):
            raise AssetModelError(loc, f"expected text (the template's default is {default!r})")
        if not _finite(value):
            raise AssetModelError(loc, "numbers must be finite (JSON has no NaN or infinity)")
        if name in _POSITIVE_ATTRIBUTES and (not is_number or value <= 0):
            raise AssetModelError(loc, f"must be a number above 0, got {value!r}")
    return attributes


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _check_limits(loc: Loc, low: float | None, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        raise AssetModelError(loc, f"low {low} is above high {high}")


def _tag_specs(request: AssetOnboarding, template: AssetTemplate) -> list[TagSpec]:
    if request.tags is None:
        specs = list(template.tags)
    else:
        specs = []
        for i, key in enumerate(request.tags):
            spec = template.tag(key)
            if spec is None:
                known = ", ".join(t.key for t in template.tags)
                raise AssetModelError(
                    ("tags", i), f"template {template.key!r} has no tag {key!r} (it has {known})"
                )
            specs.append(spec)
    keys = {s.key for s in specs}
    for i, extra in enumerate(request.extra_tags):
        if extra.key in keys:
            raise AssetModelError(("extra_tags", i, "key"), f"tag {extra.key!r} is there already")
        keys.add(extra.key)
        specs.append(extra)
    if not specs:
        raise AssetModelError(("tags",), "an asset needs at least one tag")
    for key in request.limits:
        if key not in keys:
            raise AssetModelError(("limits", key), f"the asset has no tag {key!r}")
    out = []
    for spec in specs:
        if spec.key in request.limits:
            limits = request.limits[spec.key]
            spec = spec.model_copy(update=limits.model_dump(exclude_unset=True))
            _check_limits(("limits", spec.key), spec.low, spec.high)
        out.append(spec)
    return out


def _check_addresses(
    connection: Any, tags: list[tuple[str, dict[str, Any]]], loc: Loc = ("address",)
) -> None:
    for key, source in tags:
        try:
            agent_tag_address(connection, key, source)
        except AddressError as exc:
            raise AssetModelError(loc, str(exc)) from None


def series_count(session: Session, tenant_id: int) -> int:
    """Tags in the tenant's asset model: each is one series of the plan's quota."""
    query = (
        select(func.count(TagDef.id))
        .join(Asset, TagDef.asset_id == Asset.id)
        .join(Line, Asset.line_id == Line.id)
        .join(Site, Line.site_id == Site.id)
        .where(Site.tenant_id == tenant_id)
    )
    return session.scalar(query) or 0


def find_asset(session: Session, tenant_id: int, site: str, line: str, asset: str) -> Asset | None:
    return session.scalar(
        select(Asset)
        .join(Line, Asset.line_id == Line.id)
        .join(Site, Line.site_id == Site.id)
        .where(Site.tenant_id == tenant_id, Site.key == site, Line.key == line, Asset.key == asset)
    )


def onboard_asset(
    session: Session,
    tenant: Tenant,
    request: AssetOnboarding,
    actor: str,
    templates: dict[str, AssetTemplate] | None = None,
) -> Asset:
    """Create the asset with its template's tags (and its site and line when missing).

    Raises AssetModelError (422: a field is wrong), AssetConflict (409: it exists) or
    PlanQuotaExceeded (400); nothing is written then.
    """
    catalog = shipped_templates() if templates is None else templates
    template = catalog.get(request.template)
    if template is None:
        raise AssetModelError(
            ("template",),
            f"no template {request.template!r}; there are: {', '.join(sorted(catalog))}",
        )
    specs = _tag_specs(request, template)
    attributes = check_attributes(
        {**template.attributes, **request.attributes}, template.attributes, "attributes"
    )
    if request.address is not None:
        _check_addresses(request.address, [(s.key, s.source()) for s in specs])
    quota = tenant.plan.max_series
    if series_count(session, tenant.id) + len(specs) > quota:
        raise PlanQuotaExceeded(
            (), f"plan {tenant.plan.key!r} allows {quota} series; this asset's {len(specs)}"
            " tags would pass it"
        )  # fmt: skip
    if find_asset(session, tenant.id, request.site, request.line, request.asset) is not None:
        raise AssetConflict(
            ("asset",),
            f"asset {request.asset!r} exists already on line {request.line!r}"
            f" of site {request.site!r}",
        )
    site = session.scalar(select(Site).where(Site.tenant_id == tenant.id, Site.key == request.site))
    if site is None:
        site = Site(
            tenant_id=tenant.id,
            key=request.site,
            name=request.site_name or request.site,
            district=request.district,
        )
        session.add(site)
        _audit(session, tenant, actor, "site.create", {"site": request.site})
    line = next((x for x in site.lines if x.key == request.line), None)
    if line is None:
        line = Line(site=site, key=request.line, name=request.line_name or request.line)
        session.add(line)
        _audit(session, tenant, actor, "line.create", {"site": site.key, "line": request.line})
    asset = Asset(
        line=line,
        key=request.asset,
        name=request.name or request.asset,
        asset_type=template.key,
        attributes=attributes,
        digital_control=(
            template.digital_control if request.digital_control is None else request.digital_control
        ),
        connection=request.address.model_dump() if request.address else None,
        tags=[_tag_def(spec) for spec in specs],
    )
    session.add(asset)
    try:
        session.flush()
    except IntegrityError:
        # Another request made the same site, line or asset between our check and now.
        raise AssetConflict(
            ("asset",), f"asset {request.asset!r} was just created by someone else: retry"
        ) from None
    _audit(
        session,
        tenant,
        actor,
        "asset.onboard",
        {
            "site": site.key,
            "line": line.key,
            "asset": asset.key,
            "template": template.key,
            "tags": len(specs),
        },
    )
    return asset


def _tag_def(spec: TagSpec) -> TagDef:
    return TagDef(
        key=spec.key,
        unit=spec.unit,
        kind=spec.kind.value,
        low=spec.low,
        high=spec.high,
        meaning=spec.meaning,
        role=spec.role.value if spec.role else None,
        states=(
            {k: v.model_dump(mode="json") for k, v in spec.states.items()} if spec.states else None
        ),
        source=spec.source(),
    )


def update_asset(
    session: Session,
    tenant: Tenant,
    asset: Asset,
    patch: AssetPatch,
    actor: str,
    templates: dict[str, AssetTemplate] | None = None,
) -> Asset:
    """Apply the fields sent; checks everything first, so a refused patch changes nothing.

    ``templates``: the catalog the asset's template is looked up in for its attributes'
    defaults (default: the shipped ones; the API passes the tenant's, its cloud's too).
    """
    sent = patch.model_fields_set
    changes: dict[str, Any] = {}
    attributes = dict(asset.attributes or {})
    if "attributes" in sent and patch.attributes is not None:
        template = (shipped_templates() if templates is None else templates).get(asset.asset_type)
        defaults = template.attributes if template else {}
        for name, value in patch.attributes.items():
            if value is None:
                attributes.pop(name, None)
            else:
                check_attributes({name: value}, defaults, "attributes")
                attributes[name] = value
        changes["attributes"] = sorted(patch.attributes)
    tags = {t.key: t for t in asset.tags}
    tag_updates: dict[str, dict[str, Any]] = {}
    for key, tag_patch in (patch.tags or {}).items():
        tag = tags.get(key)
        if tag is None:
            raise AssetModelError(("tags", key), f"the asset has no tag {key!r}")
        update = tag_patch.model_dump(exclude_unset=True)
        for field in ("unit", "meaning"):
            if field in update and update[field] is None:
                raise AssetModelError(("tags", key, field), "may be empty text, not null")
        low = update.get("low", tag.low)
        high = update.get("high", tag.high)
        _check_limits(("tags", key), low, high)
        tag_updates[key] = update
    if tag_updates:
        changes["tags"] = sorted(tag_updates)
    if "address" in sent and patch.address is not None:
        _check_addresses(patch.address, [(t.key, t.source) for t in asset.tags])
    if "name" in sent:
        if patch.name is None:
            raise AssetModelError(("name",), "an asset keeps a name; send a new one")
        asset.name = patch.name
        changes["name"] = patch.name
    if "digital_control" in sent:
        if patch.digital_control is None:
            raise AssetModelError(("digital_control",), "expected true or false, not null")
        asset.digital_control = patch.digital_control
        changes["digital_control"] = patch.digital_control
    if "attributes" in changes:
        asset.attributes = attributes
    for key, update in tag_updates.items():
        for field, value in update.items():
            setattr(tags[key], field, value)
    if "address" in sent:
        asset.connection = patch.address.model_dump() if patch.address else None
        changes["address"] = asset.connection
    session.flush()
    _audit(session, tenant, actor, "asset.update", {**_place(asset), "changes": changes})
    return asset


def delete_asset(session: Session, tenant: Tenant, asset: Asset, actor: str) -> None:
    """The asset and its tags go; its site and line stay (tokens and other assets use them)."""
    place = _place(asset)
    session.delete(asset)
    session.flush()
    _audit(session, tenant, actor, "asset.delete", place)


def connection_of(asset: Asset) -> OpcUaConnection | ModbusConnection | None:
    """The asset's connection model, or None when no agent reads it."""
    return parse_connection(asset.connection) if asset.connection else None


def _place(asset: Asset) -> dict[str, str]:
    return {"site": asset.line.site.key, "line": asset.line.key, "asset": asset.key}


def _audit(session: Session, tenant: Tenant, actor: str, action: str, detail: dict) -> None:
    session.add(AuditEvent(actor=actor, tenant_id=tenant.id, action=action, detail=detail))
