"""How the edge agent reaches an asset: its connection, and each tag's address on it.

A template gives every tag an address relative to the machine (an OPC UA browse name, a
Modbus register offset), so one template serves every machine of its kind; the asset's
connection (endpoint and node prefix, or host, unit and base register) makes them the
absolute addresses of an edge-agent config.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from protocols.registers import register_count


class AddressError(ValueError):
    """A tag that cannot be addressed on this connection; the message names the tag."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpcUaConnection(_Strict):
    protocol: Literal["opcua"]
    endpoint: str = Field(max_length=500, description="opc.tcp://host:4840")
    node_prefix: str | None = Field(
        default=None,
        max_length=500,
        description="Put before each browse name: ns=2;s=IMM01. + MeltTemp.",
    )
    browse_path: str | None = Field(
        default=None,
        max_length=1000,
        description="The machine's object from Objects, e.g. Objects/2:IMM-01; its tags are"
        " <namespace_index>:<browse name> below it.",
    )
    namespace_index: int = Field(default=2, ge=0, le=65535)

    @field_validator("endpoint")
    @classmethod
    def _opc_tcp(cls, value: str) -> str:
        if not value.startswith("opc.tcp://"):
            raise ValueError(f"must start with opc.tcp://, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_base(self) -> OpcUaConnection:
        if self.node_prefix is not None and self.browse_path is not None:
            raise ValueError("set node_prefix or browse_path, not both")
        return self

    def device_key(self) -> tuple[Any, ...]:
        return ("opcua", self.endpoint)


class ModbusConnection(_Strict):
    protocol: Literal["modbus"]
    transport: Literal["tcp", "rtu_over_tcp"] = "tcp"
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=502, ge=1, le=65535)
    unit_id: int = Field(default=1, ge=0, le=255)
    base_register: int = Field(
        default=0, ge=0, le=65535, description="Added to each tag's register offset."
    )

    def device_key(self) -> tuple[Any, ...]:
        return ("modbus", self.transport, self.host, self.port, self.unit_id)


Connection = Annotated[OpcUaConnection | ModbusConnection, Field(discriminator="protocol")]


def parse_connection(data: dict[str, Any]) -> OpcUaConnection | ModbusConnection:
    """A stored connection back into its model."""
    if data.get("protocol") == "opcua":
        return OpcUaConnection.model_validate(data)
    return ModbusConnection.model_validate(data)


def agent_tag_address(
    connection: OpcUaConnection | ModbusConnection, tag: str, source: dict[str, Any]
) -> dict[str, Any]:
    """The address keys of an edge-agent tag (``node``/``path``, or ``table``, ``address``,
    ``type`` …) for a tag with relative ``source`` on ``connection``."""
    if isinstance(connection, OpcUaConnection):
        return _opcua_address(connection, tag, source.get("opcua"))
    return _modbus_address(connection, tag, source.get("modbus"))


def _opcua_address(
    connection: OpcUaConnection, tag: str, source: dict[str, Any] | None
) -> dict[str, Any]:
    if not source:
        raise AddressError(f"tag {tag!r} has no OPC UA address (its template gives none)")
    if "node" in source:
        address = {"node": source["node"]}
    elif connection.node_prefix is not None:
        address = {"node": connection.node_prefix + source["browse_name"]}
    elif connection.browse_path is not None:
        base = connection.browse_path.rstrip("/")
        address = {"path": f"{base}/{connection.namespace_index}:{source['browse_name']}"}
    else:
        raise AddressError(
            f"tag {tag!r} is addressed by browse name {source['browse_name']!r}: set"
            " node_prefix (e.g. 'ns=2;s=IMM01.') or browse_path (e.g. 'Objects/2:IMM-01')"
        )
    # The agent's own parser: an address it would refuse is refused here, at onboarding.
    from protocols.opcua_addressing import TagAddress

    try:
        TagAddress(tag, address.get("node"), address.get("path"))
    except ValueError as exc:
        raise AddressError(str(exc)) from None
    return address


def _modbus_address(
    connection: ModbusConnection, tag: str, source: dict[str, Any] | None
) -> dict[str, Any]:
    if not source:
        raise AddressError(f"tag {tag!r} has no Modbus address (its template gives none)")
    start = connection.base_register + source["register_offset"]
    end = start + register_count(source["type"], source.get("length")) - 1
    if end > 65535:
        raise AddressError(
            f"tag {tag!r}: base register {connection.base_register} + offset"
            f" {source['register_offset']} puts it at {start}..{end}, past register 65535"
        )
    address: dict[str, Any] = {"table": source["table"], "address": start, "type": source["type"]}
    for key in ("word_order", "scale", "offset", "bit", "length"):
        if key in source:
            address[key] = source[key]
    return address
