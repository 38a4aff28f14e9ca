"""The faults a simulator can be told to have: their names, parameters and targets, and
how the process faults act on a plant model (the server faults live in PlantServer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from protocols.simulators.machines import InjectionMouldingMachine, Pump
from protocols.simulators.plants import PlantModel


class FaultError(ValueError):
    """An unknown fault, a wrong target or a bad parameter; the message says which."""


@dataclass(frozen=True)
class FaultKind:
    """One fault: what it does, what it applies to, and its parameters with defaults."""

    name: str
    target: str  # "pump", "moulding machine", "ASSET.tag" or "server"
    defaults: dict[str, float]
    meaning: str


FAULT_KINDS: dict[str, FaultKind] = {
    k.name: k
    for k in (
        FaultKind(
            "bearing_wear",
            "pump",
            {"rate": 0.01, "trip_vibration": 11.2},
            "vibration and bearing temperature grow as exp(rate x running hours) until the "
            "vibration trip stops the pump",
        ),
        FaultKind(
            "heater_failure",
            "moulding machine",
            {"tau_s": 900.0, "alarm_below_c": 180.0},
            "melt temperature falls toward ambient with time constant tau_s; alarm below "
            "alarm_below_c",
        ),
        FaultKind(
            "leak",
            "pump",
            {"size": 0.25},
            "a leak downstream takes size x rated flow: flow rises, discharge pressure falls",
        ),
        FaultKind(
            "stuck_sensor",
            "ASSET.tag",
            {},
            "the reading freezes at its last value while the process goes on",
        ),
        FaultKind(
            "comms_drop",
            "server",
            {"seconds": 10.0},
            "the server closes every connection and refuses new ones, then comes back",
        ),
        FaultKind("server_restart", "server", {}, "the server stops and starts on the same port"),
    )
}
SERVER_FAULTS = frozenset({"comms_drop", "server_restart"})

T = TypeVar("T")


@dataclass(frozen=True)
class ActiveFault:
    """A fault in effect: which, on what, with which parameters, since when (model time)."""

    fault: str
    target: str
    params: dict[str, float] = field(default_factory=dict)
    since_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "target": self.target,
            "params": dict(self.params),
            "since_s": round(self.since_s, 3),
        }


def resolve_params(fault: str, params: dict[str, Any]) -> dict[str, float]:
    """The fault's parameters: defaults overridden by ``params``, each a number."""
    kind = fault_kind(fault)
    unknown = set(params) - set(kind.defaults)
    if unknown:
        allowed = ", ".join(kind.defaults) or "none"
        raise FaultError(f"{fault}: unknown parameter(s) {', '.join(sorted(unknown))} "
                         f"(allowed: {allowed})")  # fmt: skip
    resolved = dict(kind.defaults)
    for name, value in params.items():
        try:
            resolved[name] = float(value)
        except (TypeError, ValueError):
            raise FaultError(f"{fault}: {name} must be a number, got {value!r}") from None
    return resolved


def fault_kind(fault: str) -> FaultKind:
    try:
        return FAULT_KINDS[fault]
    except KeyError:
        choices = ", ".join(FAULT_KINDS)
        raise FaultError(f"unknown fault {fault!r} (choose from {choices})") from None


def inject_process_fault(
    model: PlantModel, fault: str, target: str, params: dict[str, float]
) -> None:
    """Make ``target`` in ``model`` have ``fault``; raises FaultError on a wrong target."""
    try:
        if fault == "bearing_wear":
            _asset(model, target, Pump, fault).start_bearing_wear(
                params["rate"], params["trip_vibration"]
            )
        elif fault == "leak":
            _asset(model, target, Pump, fault).set_leak(params["size"])
        elif fault == "heater_failure":
            _asset(model, target, InjectionMouldingMachine, fault).fail_heaters(
                params["tau_s"], params["alarm_below_c"]
            )
        elif fault == "stuck_sensor":
            asset, tag = _sensor(target)
            model.stick(asset, tag)
        else:
            raise FaultError(f"{fault} is not a process fault")
    except KeyError:
        raise FaultError(f"{fault}: no sensor {target!r} in this plant") from None
    except ValueError as exc:
        if isinstance(exc, FaultError):
            raise
        raise FaultError(f"{fault}: {exc}") from None


def clear_process_fault(model: PlantModel, fault: str, target: str) -> None:
    """Repair: a new bearing, the leak closed, heaters fixed, the sensor live again."""
    if fault == "bearing_wear":
        _asset(model, target, Pump, fault).replace_bearing()
    elif fault == "leak":
        _asset(model, target, Pump, fault).set_leak(0.0)
    elif fault == "heater_failure":
        _asset(model, target, InjectionMouldingMachine, fault).repair_heaters()
    elif fault == "stuck_sensor":
        model.stuck.pop(_sensor(target), None)


def _asset(model: PlantModel, target: str, kind: type[T], fault: str) -> T:
    asset = model.assets.get(target)
    if not isinstance(asset, kind):
        wanted = FAULT_KINDS[fault].target
        choices = [name for name, a in model.assets.items() if isinstance(a, kind)]
        raise FaultError(
            f"{fault} applies to a {wanted}; {target!r} is not one "
            f"(this plant has: {', '.join(choices) or 'none'})"
        )
    return asset


def _sensor(target: str) -> tuple[str, str]:
    asset, dot, tag = target.rpartition(".")
    if not dot or not asset or not tag:
        raise FaultError(f"stuck_sensor needs a target ASSET.tag, e.g. P-101.flow; got {target!r}")
    return asset, tag
