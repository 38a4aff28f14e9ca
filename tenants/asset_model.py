"""A tenant's asset model: sites hold production lines, lines hold assets (machines,
meters), assets hold the tags their PLC reports.

The keys of sites, lines, assets and tags are the site/line/asset/tag of every point an
edge agent sends (``historian.SeriesKey``), so the model is what ingestion checks series
against (``unknown_series``) and what an edge-agent config is generated from.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from historian.model import SeriesKey
from tenants.db import Base
from tenants.models import utcnow

KEY_MAX_LENGTH = 200


class TagKind(StrEnum):
    """The historian's value kinds (``historian.ValueKind``): the field a value lands in."""

    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STRING = "string"


class TagRole(StrEnum):
    """What a tag means to analytics (OEE per ISO 22400, energy, maintenance)."""

    STATE = "state"
    COUNT_TOTAL = "count_total"
    COUNT_SCRAP = "count_scrap"
    CYCLE_TIME = "cycle_time"
    POWER_KW = "power_kw"
    ENERGY_KWH = "energy_kwh"
    VIBRATION = "vibration"
    TEMPERATURE = "temperature"
    PRESSURE = "pressure"


class StateCategory(StrEnum):
    """Where time in a machine state counts for OEE."""

    PRODUCING = "producing"
    IDLE = "idle"
    DOWN = "down"
    PLANNED_STOP = "planned_stop"


def check_key(what: str, value: str, *, path_segment: bool = False) -> str:
    """``value`` if it can name a site, line, asset or tag everywhere it goes; else
    ValueError saying why.

    Quotes, commas, spaces, ``=`` and any script are fine: line protocol and InfluxQL
    escape them. Refused is only what some reader cannot carry: control characters and
    line breaks (a tag value in line protocol ends at a newline), a trailing backslash
    (InfluxDB 1.x reads it as an escape), ``${`` (the edge agent expands it as an
    environment variable). Site, line and asset keys are also URL path segments of this
    API, so they cannot hold ``/`` or be ``.`` or ``..`` (clients collapse those).
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must not be empty")
    if len(value) > KEY_MAX_LENGTH:
        raise ValueError(f"{what} is {len(value)} characters long; at most {KEY_MAX_LENGTH}")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            raise ValueError(
                f"{what} {value!r} holds a control character or line break ({ch!r}),"
                " which a series key cannot carry"
            )
    if value.endswith("\\"):
        raise ValueError(
            f"{what} {value!r} must not end with a backslash (InfluxDB cannot store it)"
        )
    if "${" in value:
        raise ValueError(
            f"{what} {value!r} must not contain '${{': the edge agent reads it as an"
            " environment variable"
        )
    if path_segment and ("/" in value or value in (".", "..")):
        raise ValueError(
            f"{what} {value!r} must not contain '/' or be '.' or '..': it is a URL path segment"
        )
    return value


class Site(Base):
    """A factory site of a tenant; the ``site`` of its points and of its agent tokens."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH))
    name: Mapped[str] = mapped_column(String(200))
    # The bureau compares enterprises by district; a site may lie in another than its HQ.
    district: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lines: Mapped[list[Line]] = relationship(
        back_populates="site", cascade="all, delete-orphan", passive_deletes=True
    )


class Line(Base):
    """A production line (or a hall, or utilities) of a site."""

    __tablename__ = "production_lines"
    __table_args__ = (UniqueConstraint("site_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH))
    name: Mapped[str] = mapped_column(String(200))
    site: Mapped[Site] = relationship(back_populates="lines")
    assets: Mapped[list[Asset]] = relationship(
        back_populates="line", cascade="all, delete-orphan", passive_deletes=True
    )


class Asset(Base):
    """A machine, station, pump or meter, made from a template (``asset_type``)."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("line_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("production_lines.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH))
    name: Mapped[str] = mapped_column(String(200))
    # The template's key: maintenance models and OEE group assets of one type.
    asset_type: Mapped[str] = mapped_column(String(64))
    # e.g. ideal_cycle_time_s (OEE's planned run time per unit), rated_power_kw.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Closed-loop or numerical control: counts toward the key-process NC rate (数控化率).
    digital_control: Mapped[bool] = mapped_column(default=False)
    # Where the edge agent reaches it: protocol, endpoint or host/port/unit, and the node
    # prefix or base register that the tags' relative addresses start from. None: the
    # asset's data arrives some other way and no agent config lists it.
    connection: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    line: Mapped[Line] = relationship(back_populates="assets")
    tags: Mapped[list[TagDef]] = relationship(
        back_populates="asset",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="TagDef.id",
    )


class TagDef(Base):
    """One signal of an asset: what it is, its limits, its role and where the PLC has it."""

    __tablename__ = "tag_defs"
    __table_args__ = (UniqueConstraint("asset_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH))
    unit: Mapped[str] = mapped_column(String(40), default="")
    kind: Mapped[str] = mapped_column(String(10))  # a TagKind
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    meaning: Mapped[str] = mapped_column(String(500), default="")
    role: Mapped[str | None] = mapped_column(String(32))  # a TagRole
    # For role "state": raw value (as text, see state_value_key) -> category and reason.
    states: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Relative addresses: {"opcua": {"browse_name"|"node": …}, "modbus": {"table",
    # "register_offset", "type", …}}; the asset's connection turns them into agent tags.
    source: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    asset: Mapped[Asset] = relationship(back_populates="tags")


def state_value_key(value: object) -> str:
    """The text a raw state value is looked up by in ``TagDef.states``.

    The same machine state arrives as ``True`` over OPC UA and ``1`` over Modbus, and
    ``2.0`` after a scaling: all are spelt as the integer (``"1"``, ``"2"``); strings stay.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Above this many distinct assets the query filters by site only: the IN list would
# approach SQLite's 32,766 bound parameters, and the tenant's own tags are fewer anyway.
_MAX_ASSETS_IN_FILTER = 10_000


def unknown_series(session: Session, tenant_id: int, keys: Iterable[SeriesKey]) -> list[SeriesKey]:
    """The keys (distinct, in first-seen order) whose site, line, asset or tag is not in
    tenant ``tenant_id``'s asset model.

    One query for any number of keys: it fetches the modelled tags of the keys' sites and
    assets and compares in memory, so a batch of a few thousand series costs one round
    trip.
    """
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    sites = sorted({k.site for k in wanted})
    assets = sorted({k.asset for k in wanted})
    query = (
        select(Site.key, Line.key, Asset.key, TagDef.key)
        .select_from(Site)
        .join(Line, Line.site_id == Site.id)
        .join(Asset, Asset.line_id == Line.id)
        .join(TagDef, TagDef.asset_id == Asset.id)
        .where(Site.tenant_id == tenant_id, Site.key.in_(sites))
    )
    if len(assets) <= _MAX_ASSETS_IN_FILTER:
        query = query.where(Asset.key.in_(assets))
    known = {tuple(row) for row in session.execute(query)}
    return [k for k in wanted if (k.site, k.line, k.asset, k.tag) not in known]
