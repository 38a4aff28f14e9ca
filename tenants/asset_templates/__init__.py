"""Industry asset templates: the YAML files beside this module, and how they are read.

A template says what a kind of machine is (names in English and Chinese, attributes
with defaults, whether it is digitally controlled) and which tags it reports, with each
tag's unit, kind, limits, meaning, analytics role and its default address relative to
the machine's connection: an OPC UA browse name (appended to a node prefix or browse
path) and a Modbus register offset (added to a base register).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from tenants.asset_model import StateCategory, TagKind, TagRole, check_key, state_value_key

TEMPLATE_DIR = Path(__file__).parent
MODBUS_TYPES = (
    "bool",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "string",
)


def _no_nul(value: str) -> str:
    # PostgreSQL's text types cannot hold NUL: refuse it here rather than fail there.
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


def Text(max_length: int, min_length: int = 0) -> Any:
    """Free text of at most ``max_length`` characters that any store can keep."""
    return Annotated[
        str, Field(min_length=min_length, max_length=max_length), AfterValidator(_no_nul)
    ]


# JSON has no NaN or infinity, so an answer carrying one could not be sent.
Number = Annotated[float, Field(allow_inf_nan=False)]


class TemplateError(Exception):
    """A template file that cannot be used: names the file and the field."""

    def __init__(self, file: str, field: str, message: str) -> None:
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {message}")
        self.file, self.field, self.message = file, field, message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpcUaSource(_Strict):
    """Where an OPC UA server has the tag, relative to the asset's connection."""

    browse_name: str | None = Field(
        default=None,
        description="Appended to the asset's node prefix (ns=2;s=IMM01. + MeltTemp) or, as"
        " <namespace>:<name>, to its browse path.",
    )
    node: str | None = Field(default=None, description="An absolute NodeId, used as it is.")

    @model_validator(mode="after")
    def _one(self) -> OpcUaSource:
        if (self.browse_name is None) == (self.node is None):
            raise ValueError("set exactly one of browse_name and node")
        return self


class ModbusSource(_Strict):
    """Where a Modbus device has the tag, relative to the asset's base register."""

    table: Literal["coil", "discrete", "holding", "input"]
    register_offset: int = Field(ge=0, le=65535, description="Added to the asset's base register.")
    type: Literal[MODBUS_TYPES]  # type: ignore[valid-type]
    word_order: Literal["big", "little"] = "big"
    scale: Number = 1.0
    offset: Number = 0.0
    bit: int | None = Field(default=None, ge=0, le=15)
    length: int | None = Field(default=None, ge=1, le=125)

    @model_validator(mode="after")
    def _consistent(self) -> ModbusSource:
        # The same rules the edge agent enforces, so a template never yields a config
        # the agent refuses.
        bit_table = self.table in ("coil", "discrete")
        if bit_table != (self.type == "bool"):
            raise ValueError("coil and discrete tables hold type bool, and only they do")
        if (self.type == "string") != (self.length is not None):
            raise ValueError("length is needed for type string, and only for it")
        if self.bit is not None and self.type not in ("int16", "uint16"):
            raise ValueError("bit needs type int16 or uint16")
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        return self


class StateDef(_Strict):
    category: StateCategory
    reason: Text(200, min_length=1)


def _state_keys(value: Any) -> Any:
    # YAML reads `1:` and `true:` as numbers and booleans; state values are looked up as
    # text (state_value_key), so both spellings of one state land on one key.
    if isinstance(value, dict):
        return {state_value_key(k): v for k, v in value.items()}
    return value


class TagSpec(_Strict):
    """One tag: of a template, or added to one asset beside its template's tags."""

    key: str
    unit: Text(40) = ""
    kind: TagKind
    low: Number | None = None
    high: Number | None = None
    meaning: Text(500) = ""
    role: TagRole | None = None
    states: Annotated[dict[str, StateDef] | None, BeforeValidator(_state_keys)] = None
    opcua: OpcUaSource | None = None
    modbus: ModbusSource | None = None

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        return check_key("tag key", value)

    @model_validator(mode="after")
    def _consistent(self) -> TagSpec:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        if (self.role is TagRole.STATE) != bool(self.states):
            raise ValueError("a tag with role state needs states (raw value -> category), and"
                             " only such a tag has them")  # fmt: skip
        return self

    def source(self) -> dict[str, Any]:
        """The relative addresses as stored on a TagDef."""
        return {
            name: part.model_dump(exclude_defaults=True)
            for name, part in (("opcua", self.opcua), ("modbus", self.modbus))
            if part is not None
        }


class LocalizedName(_Strict):
    en: str = Field(min_length=1, max_length=200)
    zh: str = Field(min_length=1, max_length=200)


class AssetTemplate(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name: LocalizedName
    description: str = Field(min_length=1)
    digital_control: bool = Field(
        description="Default: closed-loop or numerical control (counts toward the NC rate)."
    )
    attributes: dict[str, JsonValue] = Field(default_factory=dict)
    tags: list[TagSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_tags(self) -> AssetTemplate:
        seen: set[str] = set()
        for tag in self.tags:
            if tag.key in seen:
                raise ValueError(f"tag key {tag.key!r} appears twice")
            seen.add(tag.key)
        return self

    def tag(self, key: str) -> TagSpec | None:
        return next((t for t in self.tags if t.key == key), None)

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name.model_dump(),
            "description": self.description,
            "tags": [t.key for t in self.tags],
        }


def _field_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_template(path: Path) -> AssetTemplate:
    """Read and validate one template file; TemplateError names the file and the field."""
    name = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(name, "", f"cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise TemplateError(name, "", f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise TemplateError(name, "", "a template is a mapping with key, name, tags, …")
    try:
        template = AssetTemplate.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        raise TemplateError(name, _field_path(tuple(error["loc"])), message + more) from None
    if template.key != path.stem:
        raise TemplateError(name, "key", f"{template.key!r} differs from the file name")
    return template


def load_templates(directory: Path) -> dict[str, AssetTemplate]:
    """Every ``*.yaml`` template in ``directory``, by key."""
    return {p.stem: load_template(p) for p in sorted(directory.glob("*.yaml"))}


@cache
def shipped_templates() -> dict[str, AssetTemplate]:
    """The templates that ship with the platform (read once per process)."""
    return load_templates(TEMPLATE_DIR)
