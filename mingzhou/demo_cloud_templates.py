"""The demo's industry-cloud template: the mold-making cloud carries a hot-runner
temperature controller, a machine of its vertical the platform does not ship, so its
members' template lists show one ``source: industry_cloud`` entry beside the platform's."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tenants.asset_templates import AssetTemplate
from tenants.industry_templates import find_cloud_template, put_cloud_template
from tenants.models import IndustryCloud

ZONES = 4


def _zone(n: int) -> dict:
    return {
        "key": f"zone_{n}_temp",
        "unit": "degC",
        "kind": "float",
        "low": 180,
        "high": 320,
        "meaning": f"melt temperature of hot-runner zone {n} (nozzle or manifold)",
        "role": "temperature",
        "opcua": {"browse_name": f"Zone{n}Temp"},
        "modbus": {"table": "input", "register_offset": 2 * (n - 1), "type": "float32"},
    }


HOT_RUNNER_CONTROLLER = {
    "key": "hot_runner_controller",
    "name": {"en": "Hot-runner temperature controller", "zh": "热流道温控器"},
    "description": (
        "A multi-zone hot-runner controller on a mould: each zone keeps its nozzle or"
        " manifold at its setpoint by closed-loop control; a zone drifting out of its band"
        " makes short shots and flash."
    ),
    "digital_control": True,
    "attributes": {"zones": ZONES, "setpoint_c": 240, "rated_power_kw": 6.0},
    "tags": [
        *(_zone(n) for n in range(1, ZONES + 1)),
        {
            "key": "heater_output",
            "unit": "%",
            "kind": "float",
            "low": 0,
            "high": 100,
            "meaning": "mean heater duty over the zones",
            "opcua": {"browse_name": "HeaterOutput"},
            "modbus": {"table": "input", "register_offset": 2 * ZONES, "type": "float32"},
        },
    ],
}
# industry cloud key -> its templates (documents as PUT /api/industry-clouds/…/templates takes)
CLOUD_TEMPLATES = {"mold-cloud": (HOT_RUNNER_CONTROLLER,)}


def seed_cloud_templates(session: Session, cloud: IndustryCloud, actor: str) -> None:
    """Add the cloud's demo templates that are missing; an operator's edits stay."""
    for document in CLOUD_TEMPLATES.get(cloud.key, ()):
        if find_cloud_template(session, cloud.id, document["key"]) is None:
            template = AssetTemplate.model_validate(document)
            put_cloud_template(session, cloud, template.key, template, actor)
