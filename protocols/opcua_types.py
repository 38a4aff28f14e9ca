"""OPC UA values to storable values: scalars, arrays and decoded structures.

A value the historian can store is a bool, int, float or str. An OPC UA value may be a
scalar, an array or a structure (ExtensionObject); arrays and structures are flattened
into *members* named after the tag: ``tag[0]``, ``tag[1]`` …, ``tag.field``,
``tag.inner.field``. Each member becomes its own series, which is what a plant manager
charts (the 3rd zone temperature, the ``Setpoint`` of a recipe struct), and keeps every
stored field a scalar. Arrays longer than ``MAX_ARRAY_ELEMENTS`` are refused for the tag
instead, so a 10,000-point waveform does not silently become 10,000 series.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from collections.abc import Container, Iterator
from typing import Any

from asyncua import ua

from protocols.sample import Quality, Sample, Value

MAX_ARRAY_ELEMENTS = 256
_MAX_DEPTH = 8  # structures nest; a self-referencing type must not recurse forever


class UnsupportedValue(TypeError):
    """This value (or member) cannot be stored; the message says why, for the log."""


@dataclasses.dataclass(frozen=True, slots=True)
class Member:
    """One storable part of a value: ``suffix`` is "" for a scalar, ``[2]`` or ``.field``."""

    suffix: str
    value: Value | None
    error: str | None = None


def variant_to_value(variant: ua.Variant) -> Value:
    """A scalar Variant -> a Python value; raises UnsupportedValue otherwise."""
    if variant.is_array or isinstance(variant.Value, list):
        raise UnsupportedValue(f"array of {variant.VariantType.name} is not a scalar")
    if variant.Value is None:
        raise UnsupportedValue(f"{variant.VariantType.name} without a value")
    return scalar_to_value(variant.Value)


def scalar_to_value(value: Any) -> Value:
    """One Python value as asyncua decoded it -> bool, int, float or str."""
    # bool before int: bool is an int subclass and must stay a bool in InfluxDB.
    if isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):  # server enumerations arrive as IntEnum members
        return int(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        # OPC UA DateTime is UTC by definition; asyncua may hand it over naive.
        stamp = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return stamp.isoformat()
    if isinstance(value, ua.LocalizedText):
        return value.Text or ""
    if isinstance(value, ua.QualifiedName | ua.NodeId):
        return value.to_string()
    if isinstance(value, ua.StatusCode):
        return value.name
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        raise UnsupportedValue(f"ByteString ({len(value)} bytes) is binary and is not stored")
    if isinstance(value, ua.ExtensionObject):
        raise UnsupportedValue(
            f"structure of data type {value.TypeId.to_string()} could not be decoded: "
            "the server publishes no data-type definition for it"
        )
    raise UnsupportedValue(f"type {type(value).__name__} is not supported")


def flatten(value: Any) -> list[Member]:
    """Every storable member of ``value``; unsupported members carry an error instead."""
    if isinstance(value, list) and _element_count(value) > MAX_ARRAY_ELEMENTS:
        raise UnsupportedValue(
            f"array of {_element_count(value)} elements is longer than {MAX_ARRAY_ELEMENTS}; "
            "arrays that long are not stored"
        )
    members = list(_walk(value, "", 0))
    if not members:
        raise UnsupportedValue("empty array or structure, nothing to store")
    return members


def _walk(value: Any, suffix: str, depth: int) -> Iterator[Member]:
    if depth > _MAX_DEPTH:
        yield Member(suffix, None, f"nested deeper than {_MAX_DEPTH} levels")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{suffix}[{i}]", depth + 1)
        return
    if _is_structure(value):
        for f in dataclasses.fields(value):
            yield from _walk(getattr(value, f.name), f"{suffix}.{f.name}", depth + 1)
        return
    if value is None:  # an optional structure field that is absent
        return
    try:
        yield Member(suffix, scalar_to_value(value))
    except UnsupportedValue as exc:
        yield Member(suffix, None, str(exc))


_BUILT_IN_SCALARS = (
    ua.LocalizedText,
    ua.QualifiedName,
    ua.NodeId,
    ua.StatusCode,
    ua.ExtensionObject,
)


def _is_structure(value: Any) -> bool:
    # asyncua decodes structures into dataclasses, but also its built-in scalars
    # (LocalizedText, NodeId, QualifiedName), which are stored as one string each.
    return (
        dataclasses.is_dataclass(value)
        and not isinstance(value, type)
        and not isinstance(value, _BUILT_IN_SCALARS)
    )


def _element_count(value: list[Any]) -> int:
    # A matrix arrives as nested lists; the cap is on its cells, not its rows.
    return sum(_element_count(x) if isinstance(x, list) else 1 for x in value)


def split_member(sample_tag: str, known: Container[str]) -> tuple[str, str] | None:
    """``("ST-01.recipe", ".setpoint")`` for ``ST-01.recipe.setpoint`` when the first is known.

    Driver tag names may themselves contain dots (``asset.tag``), so the split is taken at
    the longest known prefix followed by ``.`` or ``[``. None when nothing matches.
    """
    for cut in range(len(sample_tag) - 1, 0, -1):
        if sample_tag[cut] in ".[" and sample_tag[:cut] in known:
            return sample_tag[:cut], sample_tag[cut:]
    return None


TIMESTAMP_MODES = ("source", "server", "agent")
_PLAIN = frozenset({bool, int, float, str})


def sample_time(data: ua.DataValue, mode: str, agent_ns: int) -> int:
    """The sample's timestamp: the device's (source), the server's, or the agent's read.

    A missing source or server timestamp (many servers omit one) falls back to the next
    best, so a sample always has a time: source -> server -> agent.
    """
    if mode == "agent":
        return agent_ns
    stamps = (
        (data.SourceTimestamp, data.ServerTimestamp)
        if mode == "source"
        else (data.ServerTimestamp,)
    )
    for stamp in stamps:
        if stamp is not None:
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=dt.UTC)
            return _to_ns(stamp)
    return agent_ns


def _to_ns(stamp: dt.datetime) -> int:
    # Integer arithmetic: a float of seconds since 1970 loses the microseconds.
    delta = stamp - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_samples(tag: str, where: str, data: ua.DataValue, timestamp_ns: int) -> list[Sample]:
    """One DataValue -> its Samples: one for a scalar, one per member otherwise.

    Each carries the OPC UA StatusCode's name; ``where`` (tag and address) starts every
    error so the agent's log says which tag and node failed without knowing OPC UA.
    """
    status = data.StatusCode if data.StatusCode is not None else ua.StatusCode()
    name = status.name
    if status.is_bad():
        return [Sample(tag, None, timestamp_ns, Quality.BAD, f"{where}: {name}", name)]
    quality = Quality.UNCERTAIN if status.is_uncertain() else Quality.GOOD
    note = f"{where}: {name}" if quality is Quality.UNCERTAIN else None
    variant = data.Value
    if variant is None or variant.Value is None:
        return [Sample(tag, None, timestamp_ns, Quality.BAD, f"{where}: no value", name)]
    value = variant.Value
    # The common case first and cheaply: a plain scalar is one Sample as it is.
    if type(value) in _PLAIN:
        return [Sample(tag, value, timestamp_ns, quality, note, name)]
    try:
        members = flatten(variant.Value)
    except UnsupportedValue as exc:
        return [Sample(tag, None, timestamp_ns, Quality.BAD, f"{where}: {exc}", name)]
    out = []
    for m in members:
        if m.error is not None:
            error = f"{where}{' member ' + m.suffix if m.suffix else ''}: {m.error}"
            out.append(Sample(tag + m.suffix, None, timestamp_ns, Quality.BAD, error, name))
        else:
            out.append(Sample(tag + m.suffix, m.value, timestamp_ns, quality, note, name))
    return out
