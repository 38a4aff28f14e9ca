"""Opening a historian from one URL, as configuration files and the CLI name it."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from historian.influxdb_v1 import InfluxV1Historian
from historian.model import Historian
from historian.sqlite_store import SqliteHistorian

ACCEPTED_FORMS = (
    "sqlite:///absolute/path.db, sqlite:relative/path.db, "
    "influxdb://[user:password@]host[:port]/database or influxdb+https://..."
)
_INFLUX_SCHEMES = {"influxdb": "http", "influxdb+http": "http", "influxdb+https": "https"}


def open_historian(url: str) -> Historian:
    """The historian a URL names; ValueError saying the accepted forms if it names none."""
    if url.startswith("sqlite:"):
        return SqliteHistorian(_sqlite_path(url))
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in _INFLUX_SCHEMES:
        base_url, database, username, password = _influx_parts(url, _INFLUX_SCHEMES[scheme])
        return InfluxV1Historian(base_url, database, username=username, password=password)
    raise ValueError(f"unsupported historian URL {url!r}; use one of: {ACCEPTED_FORMS}")


def _sqlite_path(url: str) -> str:
    rest = url[len("sqlite:") :]
    if rest.startswith("///"):
        path = rest[2:]  # keep the leading "/" of the absolute path
    elif rest.startswith("//"):
        raise ValueError(
            f"historian URL {url!r} names a host; SQLite needs a path. Use one of: {ACCEPTED_FORMS}"
        )
    else:
        path = rest
    if not path or path == "/":
        raise ValueError(f"historian URL {url!r} has no file path; use one of: {ACCEPTED_FORMS}")
    return unquote(path)


def _influx_parts(url: str, http_scheme: str) -> tuple[str, str, str | None, str | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or 8086
    except ValueError as exc:
        raise ValueError(f"historian URL {url!r}: {exc}; use one of: {ACCEPTED_FORMS}") from exc
    database = unquote(parts.path.strip("/"))
    if not parts.hostname or not database or "/" in database or parts.query:
        raise ValueError(
            f"historian URL {url!r} needs a host and one database name; "
            f"use one of: {ACCEPTED_FORMS}"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return f"{http_scheme}://{host}:{port}", database, username, password
