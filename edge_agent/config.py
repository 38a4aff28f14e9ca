"""The edge agent's configuration: pydantic models, and loading a YAML file into them.

Every problem is reported with the file, line and field, all at once, so an integrator
fixes a config in one pass instead of one error per restart.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from edge_agent.config_source import ConfigError, ConfigIssue, Path_, SourceMap, load_yaml
from historian.durations import parse_duration
from protocols.registers import register_count

Seconds = Annotated[float, BeforeValidator(parse_duration)]


def _check_name(value: str) -> str:
    # InfluxDB cannot store a newline in a tag value, and an empty tag value drops the tag.
    if not value.strip():
        raise ValueError("must not be empty")
    if "\n" in value or "\r" in value:
        raise ValueError("must not contain a line break")
    if value.endswith("\\"):
        raise ValueError("must not end with a backslash (InfluxDB cannot store that)")
    return value


def _check_optional_name(value: str | None) -> str | None:
    return None if value is None else _check_name(value)


Name = Annotated[str, BeforeValidator(lambda v: v if not isinstance(v, int | float) else str(v))]


@dataclass(frozen=True, slots=True)
class Deadband:
    """Report by exception: an absolute change, or a percentage of the last value sent."""

    amount: float
    percent: bool

    def exceeded(self, last: float, value: float) -> bool:
        limit = abs(last) * self.amount / 100 if self.percent else self.amount
        return abs(value - last) > limit


def _parse_deadband(value: object) -> Deadband:
    if isinstance(value, Deadband):
        return value
    text = str(value).strip()
    percent = text.endswith("%")
    try:
        amount = float(text.removesuffix("%"))
    except ValueError:
        raise ValueError(f"expected a number (0.5) or a percentage ('2%'), got {value!r}") from None
    if amount < 0:
        raise ValueError(f"a deadband cannot be negative, got {value!r}")
    return Deadband(amount, percent)


Deadband_ = Annotated[Deadband, BeforeValidator(_parse_deadband)]

_SIZE_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def parse_size(value: object) -> int:
    """Bytes from ``512MB``, ``2 GB`` or a plain number of bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*", str(value).upper())
    if match is None or isinstance(value, bool):
        raise ValueError(f"expected a size such as 500MB or 2GB, got {value!r}")
    return int(
        float(match.group(1)) * _SIZE_UNITS[match.group(2) if match.group(2) != "K" else "KB"]
    )


Bytes = Annotated[int, BeforeValidator(parse_size)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentSection(_Strict):
    name: str = Field(description="Identifies this agent in logs and in the cloud.")
    site: str = Field(description="The factory site; the InfluxDB tag 'site' on every point.")

    _names = field_validator("name", "site")(_check_name)


class _TagBase(_Strict):
    name: Name = Field(description="Tag name, unique per asset; the InfluxDB tag 'tag'.")
    unit: str | None = None
    asset: Name | None = Field(default=None, description="Overrides the device's asset.")
    line: Name | None = Field(default=None, description="Overrides the device's line.")
    deadband: Deadband_ | None = Field(
        default=None, description="Send only changes larger than this (e.g. 0.5 or '2%')."
    )

    _name = field_validator("name")(_check_name)
    _place = field_validator("asset", "line")(_check_optional_name)


class OpcUaTagConfig(_TagBase):
    node: str | None = Field(
        default=None,
        description="NodeId: ns=2;s=Machine1.Temp, ns=3;i=1001 or nsu=urn:vendor;s=Temp.",
    )
    path: str | None = Field(
        default=None, description="Browse path from Objects: Objects/2:IMM-01/2:MeltTemp."
    )

    @model_validator(mode="after")
    def _one_address(self) -> OpcUaTagConfig:
        # Lazy: asyncua is imported only when a config has OPC UA tags.
        from protocols.opcua_addressing import TagAddress

        TagAddress(self.name, self.node, self.path)
        return self


class OpcUaSubscriptionConfig(_Strict):
    publishing_interval: Seconds = Field(
        default=1.0, gt=0, description="How often the server sends changes."
    )
    sampling_interval: Seconds | None = Field(
        default=None, description="How often the server samples; default the publishing interval."
    )
    queue_size: int = Field(
        default=10, ge=1, le=10_000, description="Changes kept per tag per publish."
    )
    deadband_type: Literal["none", "absolute", "percent"] = "none"
    deadband_value: float = Field(default=0.0, ge=0, description="percent: of the node's EURange.")


class OpcUaSecurityConfig(_Strict):
    policy: Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep"] = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: str | None = Field(default=None, description="Our certificate (DER or PEM).")
    private_key: str | None = Field(default=None, description="Its private key (PEM).")
    trust_dir: str | None = Field(
        default=None, description="Folder of trusted server certificates."
    )
    user_certificate: str | None = Field(default=None, description="Log in with this certificate.")
    user_private_key: str | None = None


class ModbusTagConfig(_TagBase):
    table: Literal["coil", "discrete", "holding", "input"]
    address: int = Field(ge=0, le=65535, description="Protocol address, starting at 0.")
    type: Literal[
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
    ]
    bit: int | None = Field(default=None, ge=0, le=15, description="One bit of a register.")
    length: int | None = Field(default=None, ge=1, le=125, description="String registers.")
    byte_order: Literal["ABCD", "CDAB", "BADC", "DCBA"] | None = None
    word_order: Literal["big", "little"] = Field(
        default="big", description="Legacy spelling: big is ABCD, little is CDAB."
    )
    scale: float = 1.0
    offset: float = 0.0

    @model_validator(mode="after")
    def _consistent(self) -> ModbusTagConfig:
        # Each rule names the keys to change, since the line points at the tag.
        bit_table = self.table in ("coil", "discrete")
        if bit_table and self.type != "bool":
            raise ValueError(f"a {self.table} tag has type bool, not {self.type}")
        if not bit_table and self.type == "bool":
            raise ValueError(
                f"type bool is for coil or discrete tables; for one bit of a {self.table}"
                " register use type uint16 with bit: 0..15"
            )
        if self.bit is not None and self.type not in ("int16", "uint16"):
            raise ValueError(f"bit needs type int16 or uint16, not {self.type}")
        if self.bit is not None and (self.scale != 1 or self.offset != 0):
            raise ValueError("a bit is true or false: scale and offset do not apply")
        if (self.type == "string") != (self.length is not None):
            raise ValueError(
                "type string needs length: N (registers)"
                if self.type == "string"
                else "length is only for type string"
            )
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        word_order_set = "word_order" in self.model_fields_set
        if self.byte_order and word_order_set:
            alias = "ABCD" if self.word_order == "big" else "CDAB"
            if alias != self.byte_order:
                raise ValueError(
                    f"word_order {self.word_order} ({alias}) contradicts byte_order"
                    f" {self.byte_order}: keep byte_order only"
                )
        if self.type == "string" and self.order in ("CDAB", "DCBA"):
            raise ValueError("a string's byte_order is ABCD or BADC")
        if bit_table and (self.byte_order or word_order_set):
            raise ValueError(f"byte_order does not apply to a {self.table}")
        return self

    @property
    def order(self) -> str:
        """The byte order to decode with: byte_order, else word_order's, else ABCD."""
        if self.byte_order:
            return self.byte_order
        return "CDAB" if self.word_order == "little" else "ABCD"


class _GroupBase(_Strict):
    """Tags of one device read on their own schedule (fast process values every 100 ms,
    slow counters every minute) over the device's one connection or session."""

    name: str = Field(description="Names the group in logs and metrics.")
    interval: Seconds | None = Field(default=None, description="Default: the device's interval.")

    _name = field_validator("name")(_check_name)


class OpcUaGroupConfig(_GroupBase):
    mode: Literal["poll", "subscribe"] | None = Field(
        default=None, description="Default: the device's mode."
    )
    subscription: OpcUaSubscriptionConfig | None = Field(
        default=None, description="Default: the device's subscription settings."
    )
    tags: list[OpcUaTagConfig] = Field(min_length=1)


class ModbusGroupConfig(_GroupBase):
    tags: list[ModbusTagConfig] = Field(min_length=1)


@dataclass(frozen=True)
class TagGroup:
    """One schedule of a device, resolved: which of the device's tags (by position in
    ``all_tags()``) it reads, how often, and whether by polling or by subscription."""

    name: str
    interval: float
    mode: str
    indices: tuple[int, ...]
    subscription: OpcUaSubscriptionConfig | None = None


class _DeviceBase(_Strict):
    name: str
    line: Name | None = Field(default=None, description="Default line for the tags.")
    asset: Name | None = Field(default=None, description="Default asset for the tags.")
    interval: Seconds = Field(default=1.0, description="Poll interval, aligned to the clock.")
    timeout: Seconds = Field(default=5.0, description="Longest a read may take.")
    heartbeat: Seconds = Field(
        default=60.0, description="With a deadband, an unchanged value is still sent this often."
    )

    _name = field_validator("name")(_check_name)
    _place = field_validator("asset", "line")(_check_optional_name)

    def all_tags(self) -> list[Any]:
        """The device's own tags, then each group's, in order: the driver's tag list."""
        groups = getattr(self, "groups", [])
        return [*getattr(self, "tags", []), *(t for g in groups for t in g.tags)]

    def tag_groups(self) -> list[TagGroup]:
        """The device's schedules: its own tags on its interval, then one per group."""
        mode = getattr(self, "mode", "poll")
        subscription = getattr(self, "subscription", None)
        own = len(getattr(self, "tags", []))
        out = []
        if own:
            out.append(TagGroup(self.name, self.interval, mode, tuple(range(own)), subscription))
        start = own
        for group in getattr(self, "groups", []):
            indices = tuple(range(start, start + len(group.tags)))
            start += len(group.tags)
            out.append(
                TagGroup(
                    f"{self.name}/{group.name}",
                    group.interval or self.interval,
                    getattr(group, "mode", None) or mode,
                    indices,
                    getattr(group, "subscription", None) or subscription,
                )
            )
        return out

    @model_validator(mode="after")
    def _has_tags(self) -> _DeviceBase:
        if not self.all_tags():
            raise ValueError("a device needs tags, or groups of tags")
        names = [g.name for g in getattr(self, "groups", [])]
        if len(set(names)) != len(names):
            raise ValueError("group names must be unique within a device")
        return self


class OpcUaDeviceConfig(_DeviceBase):
    protocol: Literal["opcua"]
    endpoint: str
    max_nodes_per_read: int = Field(default=1000, ge=1, le=100_000)
    mode: Literal["poll", "subscribe"] = Field(
        default="poll", description="Read on a clock or subscribe."
    )
    timestamp: Literal["source", "server", "agent"] = Field(
        default="agent",
        description="Whose time a sample carries: the device's, the server's or ours.",
    )
    subscription: OpcUaSubscriptionConfig = OpcUaSubscriptionConfig()
    security: OpcUaSecurityConfig = OpcUaSecurityConfig()
    username: str | None = None
    password: str | None = None
    watchdog_interval: Seconds | None = Field(
        default=None, description="Session keep-alive probe period; default 4 x timeout."
    )
    tags: list[OpcUaTagConfig] = Field(default_factory=list)
    groups: list[OpcUaGroupConfig] = Field(
        default_factory=list, description="Tags on schedules of their own, one session."
    )

    @model_validator(mode="after")
    def _security_complete(self) -> OpcUaDeviceConfig:
        from protocols.opcua_config import client_security

        client_security(self)  # raises ValueError naming what is missing
        return self

    @field_validator("endpoint")
    @classmethod
    def _opc_tcp(cls, value: str) -> str:
        if not value.startswith("opc.tcp://"):
            raise ValueError(f"must start with opc.tcp://, got {value!r}")
        return value


class ModbusSerialConfig(_Strict):
    port: str = Field(description="Serial device, e.g. /dev/ttyUSB0.")
    baudrate: int = Field(default=9600, ge=300, le=921_600)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class ModbusDeviceConfig(_DeviceBase):
    protocol: Literal["modbus"]
    transport: Literal["tcp", "rtu_over_tcp", "rtu"] = "tcp"
    host: str | None = None
    port: int = Field(default=502, ge=1, le=65535)
    serial: ModbusSerialConfig | None = None
    unit_id: int = Field(default=1, ge=0, le=255)
    max_gap: int = Field(default=0, ge=0, le=124, description="Registers a merged read may skip.")
    max_registers: int = Field(default=125, ge=1, le=125)
    max_bits: int = Field(default=2000, ge=1, le=2000, description="Coils per read request.")
    retries: int = Field(default=0, ge=0, le=10, description="More attempts after no answer.")
    retry_backoff: Seconds = Field(default=0.2, ge=0, description="Doubles each retry.")
    request_pause: Seconds = Field(default=0.0, ge=0, description="Quiet time between requests.")
    max_concurrent: int = Field(default=1, ge=1, le=16, description="TCP requests in flight.")
    degrade_after: int = Field(default=3, ge=1, description="Failed cycles before polling less.")
    max_degraded_interval: Seconds = Field(default=60.0, gt=0)
    tags: list[ModbusTagConfig] = Field(default_factory=list)
    groups: list[ModbusGroupConfig] = Field(
        default_factory=list, description="Tags on schedules of their own, one connection."
    )

    @model_validator(mode="after")
    def _transport(self) -> ModbusDeviceConfig:
        if self.transport == "rtu":
            if self.serial is None:
                raise ValueError("transport rtu needs serial: {port: /dev/ttyUSB0, ...}")
            if self.host is not None:
                raise ValueError(
                    "transport rtu reads a serial line: remove host (or use rtu_over_tcp)"
                )
            if self.max_concurrent != 1:
                raise ValueError("a serial line carries one request at a time: max_concurrent 1")
        else:
            if self.host is None:
                raise ValueError(f"transport {self.transport} needs host")
            if self.serial is not None:
                raise ValueError(f"serial is only for transport rtu, not {self.transport}")
        return self


DeviceConfig = Annotated[OpcUaDeviceConfig | ModbusDeviceConfig, Field(discriminator="protocol")]


class _OutputBase(_Strict):
    batch_size: int = Field(default=5000, ge=1, le=100_000, description="Points per write.")
    flush_interval: Seconds = Field(default=1.0, description="Longest a point waits to be sent.")
    retry_max: Seconds = Field(
        default=30.0, gt=0, description="Longest pause between tries while the output is down."
    )


class SqliteOutputConfig(_OutputBase):
    type: Literal["sqlite"]
    path: str = Field(description="Database file; relative paths start at the config's folder.")


class _HttpOutputBase(_OutputBase):
    url: str = Field(description="Base URL, e.g. http://127.0.0.1:8086")
    timeout: Seconds = 10.0

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/")


class InfluxV1OutputConfig(_HttpOutputBase):
    """InfluxDB's /write: 1.x, and 2.x / 3.x through their v1 compatibility endpoints."""

    type: Literal["influxdb_v1"]
    database: str
    username: str | None = None
    password: str | None = None
    create_database: bool = True


class InfluxV2OutputConfig(_HttpOutputBase):
    """InfluxDB 2.x / 3.x / Cloud through the influxdb-client library's write API."""

    type: Literal["influxdb_v2"]
    token: str
    org: str
    bucket: str


class CloudOutputConfig(_HttpOutputBase):
    """The Mingzhou cloud's ingest API, with an agent token from the tenant's admin."""

    type: Literal["cloud"]
    token: str = Field(min_length=8, description="The agent token (mzat_…); keep it in ${VAR}.")


OutputConfig = Annotated[
    SqliteOutputConfig | InfluxV1OutputConfig | InfluxV2OutputConfig | CloudOutputConfig,
    Field(discriminator="type"),
]


class BufferConfig(_Strict):
    path: str | None = Field(
        default=None, description="Buffer file; default <agent name>.buffer.db beside the config."
    )
    max_size: Bytes = Field(default=1 << 30, ge=1024, description="Oldest dropped beyond this.")
    max_age: Seconds = Field(default=7 * 86400.0, description="Oldest dropped beyond this age.")
    sync: Literal["normal", "full"] = Field(
        default="normal", description="full: fsync each poll cycle (survives power loss)."
    )


class StatusConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=9180, ge=0, le=65535, description="0 turns the status server off.")


class AgentConfig(_Strict):
    agent: AgentSection
    devices: list[DeviceConfig] = Field(min_length=1)
    outputs: list[OutputConfig] = Field(min_length=1)
    buffer: BufferConfig = BufferConfig()
    status: StatusConfig = StatusConfig()


# Sections whose model is picked by a discriminator key: pydantic puts the chosen tag
# into the error location, which is not a key of the file.
_DISCRIMINATORS = ("protocol", "type")


def _data_path(loc: tuple[str | int, ...], data: Any) -> Path_:
    """The error location as a path in the document, without pydantic's union tags."""
    path: list[str | int] = []
    node = data
    for part in loc:
        is_union_tag = (
            isinstance(node, dict)
            and isinstance(part, str)
            and part not in node
            and any(node.get(key) == part for key in _DISCRIMINATORS)
        )
        if is_union_tag:
            continue
        path.append(part)
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (
                node[part]
                if isinstance(node, list) and isinstance(part, int) and part < len(node)
                else None
            )
        )
    return tuple(path)


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def _allowed_keys(loc: Path_, data: Any) -> list[str]:
    """Keys valid where an unknown key was found, for a did-you-mean hint."""
    annotation: Any = AgentConfig
    node = data
    for part in loc[:-1]:
        if isinstance(part, str):
            model = _model_of(annotation, node)
            field = model.model_fields.get(part) if model else None
            if field is None:
                return []
            annotation = field.annotation
        node = _child(node, part)
    model = _model_of(annotation, node)
    return list(model.model_fields) if model else []


def _model_of(annotation: Any, node: Any) -> Any:
    """The pydantic model an annotation holds for this node (through lists and unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            fields = arg.model_fields
            tag = next((key for key in _DISCRIMINATORS if key in fields), None)
            if tag is None:
                return arg
            if isinstance(node, dict) and node.get(tag) in typing.get_args(fields[tag].annotation):
                return arg
        elif found := _model_of(arg, node):
            return found
    return None


def _message(error: Mapping[str, Any], path: Path_, data: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(path[-1])
        hint = difflib.get_close_matches(key, _allowed_keys(path, data), n=1)
        return f"unknown key '{key}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
    if kind == "missing":
        return f"required key '{path[-1]}' is missing"
    if kind == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        tag = error.get("ctx", {}).get("discriminator", "").strip("'")
        return (
            f"{tag} must be one of {expected}, got {error['input'].get(tag)!r}"
            if isinstance(error["input"], dict)
            else error["msg"]
        )
    if kind == "union_tag_not_found":
        tag = error.get("ctx", {}).get("discriminator", "").strip("'")
        return f"required key '{tag}' is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _pydantic_issues(exc: ValidationError, data: Any, source: SourceMap) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors():
        path = _data_path(tuple(error["loc"]), data)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            tag = error.get("ctx", {}).get("discriminator", "").strip("'")
            path = (*path, tag) if tag else path
        issues.append(source.issue(path, _message(error, path, data)))
    return issues


def _semantic_issues(config: AgentConfig, source: SourceMap) -> list[ConfigIssue]:
    """Rules that span fields: names unique, every tag placed, registers in range."""
    issues: list[ConfigIssue] = []

    def add(path: Path_, message: str) -> None:
        issues.append(source.issue(path, message))

    device_names: dict[str, int] = {}
    series: dict[tuple[str, str, str], Path_] = {}
    serial_lines: dict[str, int] = {}  # port -> first device on it
    for d, device in enumerate(config.devices):
        if isinstance(device, ModbusDeviceConfig) and device.serial is not None:
            # Units on one RS-485 line share its port, so they must agree on its framing.
            first_on_port = serial_lines.setdefault(device.serial.port, d)
            other = config.devices[first_on_port]
            if other.serial != device.serial:  # type: ignore[union-attr]
                first = source.line_of(("devices", first_on_port, "serial"))
                add(
                    ("devices", d, "serial"),
                    f"serial port {device.serial.port} is also used by device '{other.name}'"
                    f" (line {first}) with other settings: one line has one baud rate,"
                    " parity and framing",
                )
        if device.name in device_names:
            first = source.line_of(("devices", device_names[device.name], "name"))
            add(
                ("devices", d, "name"),
                f"duplicate device name '{device.name}' (first on line {first})",
            )
        device_names.setdefault(device.name, d)
        placed: list[tuple[Path_, Any]] = [
            (("devices", d, "tags", t), tag) for t, tag in enumerate(device.tags)
        ]
        placed += [
            (("devices", d, "groups", g, "tags", t), tag)
            for g, group in enumerate(device.groups)
            for t, tag in enumerate(group.tags)
        ]
        for path, tag in placed:
            line, asset = tag.line or device.line, tag.asset or device.asset
            for what, value in (("asset", asset), ("line", line)):
                if not value:
                    add(
                        (*path, "name"),
                        f"tag '{tag.name}' has no {what}: set '{what}' on the tag or its device",
                    )
            if asset and line:
                key = (line, asset, tag.name)
                if key in series:
                    first = source.line_of((*series[key], "name"))
                    add(
                        (*path, "name"),
                        f"duplicate tag name '{tag.name}' for asset '{asset}'"
                        f" (first on line {first})",
                    )
                series.setdefault(key, path)
            if isinstance(tag, ModbusTagConfig):
                last = tag.address + register_count(tag.type, tag.length) - 1
                if last > 65535:
                    add(
                        (*path, "address"),
                        f"{tag.type} at {tag.table} register {tag.address}"
                        f" would end at {last}, past 65535",
                    )
    return issues


def parse_config(data: Any, source: SourceMap) -> AgentConfig:
    """Validate loaded YAML data; raises ConfigError listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(
            [
                ConfigIssue(
                    source.file, 1, "", "the file must be a mapping with agent, devices and outputs"
                )
            ]
        )
    try:
        config = AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_pydantic_issues(exc, data, source)) from None
    if issues := _semantic_issues(config, source):
        raise ConfigError(issues)
    return config


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read, expand ``${VAR}`` and validate an agent config file."""
    data, source = load_yaml(path, environ)
    return parse_config(data, source)
