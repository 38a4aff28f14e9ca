"""The ``mingzhou`` command. Heavy imports happen inside commands, so ``--help`` is quick."""

from __future__ import annotations

from typing import Annotated

import typer

from analytics.energy.cli import app as energy_app
from jobs.cli import app as jobs_app
from maintenance.cli import app as maintenance_app
from mingzhou import __version__
from mingzhou.browse_commands import app as browse_app
from mingzhou.bureau_commands import app as bureau_app
from mingzhou.certs_commands import app as certs_app
from mingzhou.cloud_commands import app as cloud_app
from mingzhou.edge_commands import app as edge_app
from mingzhou.sim_commands import sim, sim_fault

app = typer.Typer(
    no_args_is_help=True,
    help="Mingzhou: edge agents for OPC UA and Modbus PLCs, a historian and a cloud.",
    pretty_exceptions_enable=False,
)
app.add_typer(edge_app, name="edge")
app.add_typer(cloud_app, name="cloud")
app.add_typer(browse_app, name="browse")
app.add_typer(certs_app, name="certs")
app.add_typer(energy_app, name="energy")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(bureau_app, name="bureau")
app.add_typer(jobs_app, name="jobs")
app.command()(sim)
app.command(
    "sim-fault", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)(sim_fault)


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port of the cloud and its dashboard.")] = 8000,
    data_dir: Annotated[
        str, typer.Option(help="Where the demo keeps its store and configs.")
    ] = ".demo",
    plc_base_port: Annotated[
        int, typer.Option(help="First of three ports for the simulated PLCs.")
    ] = 4840,
) -> None:
    """Three simulated factories, their edge agents, the store and the cloud, until Ctrl-C."""
    from mingzhou.demo import run_demo

    run_demo(cloud_port=port, data_dir=data_dir, plc_base_port=plc_base_port)


def main() -> None:
    app()
