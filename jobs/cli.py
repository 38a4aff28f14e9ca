"""``mingzhou jobs``: run a worker for a broker server, start a job, follow one.

The worker reads the same settings as the platform (MINGZHOU_METADATA, MINGZHOU_STORAGE,
MINGZHOU_BROKER_URL, MINGZHOU_JOB_MODULES, …). ``start`` and ``watch`` talk to the
platform's API with a session token (``POST /api/auth/login``), as any client would.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True, help="Jobs: the worker, starting and following jobs.")

FINISHED = ("succeeded", "failed", "cancelled")


@app.command()
def worker(
    metadata: Annotated[
        str,
        typer.Option(help="sqlite:///PATH or postgresql+psycopg://…", envvar="MINGZHOU_METADATA"),
    ] = "sqlite:///.cloud/metadata.db",
    storage: Annotated[
        str,
        typer.Option(
            help="sqlite:DIR or influxdb://[user:pass@]host:port", envvar="MINGZHOU_STORAGE"
        ),
    ] = "sqlite:.cloud/series",
    broker: Annotated[
        str,
        typer.Option(
            help="redis://host:port/db, shared with the platform.", envvar="MINGZHOU_BROKER_URL"
        ),
    ] = "redis://127.0.0.1:6379/0",
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs run at once.")] = 2,
    pool: Annotated[
        str, typer.Option(help="prefork (processes; time limits enforced), threads or solo.")
    ] = "prefork",
    beat: Annotated[
        bool, typer.Option(help="Also run the periodic schedule (in one worker only).")
    ] = True,
    schedule_file: Annotated[
        str, typer.Option(help="Where the schedule remembers its last runs.")
    ] = ".cloud/beat-schedule",
    hostname: Annotated[str | None, typer.Option(help="Node name; default jobs@<host>.")] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Run jobs sent by the platform through a Redis broker, until Ctrl-C or SIGTERM.

    With MINGZHOU_BROKER_URL=memory:// (the default of the platform) no worker is needed:
    the platform runs its jobs itself.
    """
    from pathlib import Path

    from cloud.platform_settings import PlatformSettings
    from jobs.celery_app import JobsConfig, create_celery_app
    from jobs.runtime import JobRuntime
    from mingzhou.runtime import configure_logging
    from tenants.db import upgrade

    if pool not in ("prefork", "threads", "solo"):
        print(f"--pool: expected prefork, threads or solo, got {pool!r}", file=sys.stderr)
        raise typer.Exit(2)
    if broker.startswith("memory://"):
        print(
            "--broker: memory:// needs no worker (the platform runs its jobs itself); "
            "give the platform's redis://host:port/db",
            file=sys.stderr,
        )
        raise typer.Exit(2)
    try:
        settings = PlatformSettings.from_environment(
            metadata_url=metadata, storage=storage, broker_url=broker
        )
        upgrade(settings.metadata_url)  # a worker may start before the platform
        configure_logging(log_level)  # after the migration: its chatter is not news
        celery = create_celery_app(
            JobsConfig.from_settings(settings), lambda: JobRuntime.from_settings(settings)
        )
    except (ValueError, OSError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    # Celery's pools look tasks up through the current app: in this process, ours.
    celery.set_default()
    Path(schedule_file).parent.mkdir(parents=True, exist_ok=True)
    node = celery.Worker(
        hostname=hostname or f"jobs@{socket.gethostname()}",
        pool=pool,
        concurrency=concurrency,
        queues=celery.queues,
        beat=beat,
        schedule_filename=schedule_file,
        loglevel=log_level.upper(),
        quiet=True,
    )
    print(
        f"jobs worker (pid {os.getpid()}): {len(celery.catalog.kinds)} kinds "
        f"({', '.join(sorted(celery.catalog.kinds))}), {len(celery.catalog.periodic)} periodic, "
        f"queues {', '.join(celery.queues)}, schedule {'on' if beat else 'off'}",
        flush=True,
    )
    node.start()
    raise typer.Exit(node.exitcode or 0)


def _client(url: str, token: str | None):
    import httpx

    if not token:
        print("--token (or MINGZHOU_TOKEN): a session token from /api/auth/login", file=sys.stderr)
        raise typer.Exit(2)
    return httpx.Client(
        base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _answer(response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        if isinstance(detail, list):  # a 422: which field, and what is wrong with it
            detail = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'][1:])}: {error['msg']}"
                for error in detail
            )
        print(f"refused ({response.status_code}): {detail}", file=sys.stderr)
        raise typer.Exit(1)
    return response.json()


Url = Annotated[str, typer.Option(help="The platform's address.", envvar="MINGZHOU_URL")]
Token = Annotated[
    str | None, typer.Option(help="A session token (Bearer).", envvar="MINGZHOU_TOKEN")
]
Tenant = Annotated[str, typer.Option(help="The tenant's key.")]


@app.command()
def start(
    kind: Annotated[str, typer.Argument(help="The job kind, e.g. series_summary.")],
    tenant: Tenant,
    params: Annotated[str, typer.Option(help="The job's params as a JSON object.")] = "{}",
    url: Url = "http://127.0.0.1:8100",
    token: Token = None,
    watch: Annotated[bool, typer.Option(help="Follow it with a progress bar.")] = True,
) -> None:
    """Start a job; with --watch (the default) follow it to its end and print its result."""
    try:
        body = json.loads(params)
    except json.JSONDecodeError as exc:
        print(f"--params: not JSON: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    with _client(url, token) as client:
        job = _answer(
            client.post(f"/api/tenants/{tenant}/jobs", json={"kind": kind, "params": body})
        )
        print(f"job {job['id']} queued", file=sys.stderr)
        if watch:
            _follow(client, tenant, job["id"])
        else:
            print(job["id"])


@app.command("watch")
def watch_job(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    tenant: Tenant,
    url: Url = "http://127.0.0.1:8100",
    token: Token = None,
) -> None:
    """Follow a job with a progress bar; print its result (exit 1 if it failed)."""
    with _client(url, token) as client:
        _follow(client, tenant, job_id)


def _follow(client, tenant: str, job_id: str, poll_s: float = 0.5) -> None:
    from jobs.progress_bar import progress_bar

    path = f"/api/tenants/{tenant}/jobs/{job_id}"
    job = _answer(client.get(path))
    with progress_bar(f"{job['kind']} {job_id[:8]}") as bar:
        while True:
            progress = job["progress"]
            bar.update(progress["done"], progress["total"], progress["message"])
            if job["state"] in FINISHED:
                break
            time.sleep(poll_s)
            job = _answer(client.get(path))
    if job["state"] != "succeeded":
        print(f"job {job_id} {job['state']}: {job['error'] or 'no error given'}", file=sys.stderr)
        raise typer.Exit(1)
    print(json.dumps(job["result"], indent=2, ensure_ascii=False))
