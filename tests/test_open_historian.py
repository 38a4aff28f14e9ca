"""Opening a historian from a URL, against real stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from historian import InfluxV1Historian, Point, SeriesKey, SqliteHistorian, open_historian

KEY = SeriesKey("s", "l", "a", "t")


def test_sqlite_absolute_path(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "h.db"
    store = open_historian(f"sqlite://{path}")
    try:
        assert isinstance(store, SqliteHistorian)
        store.write([Point(KEY, 1, 1.0)])
        assert path.exists()
    finally:
        store.close()


def test_sqlite_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_historian("sqlite:data/h.db")
    try:
        assert isinstance(store, SqliteHistorian)
        assert store.path == Path("data/h.db")
        assert (tmp_path / "data" / "h.db").exists()
    finally:
        store.close()


def test_influxdb_url(influxd: object) -> None:
    url: str = influxd.url  # type: ignore[attr-defined]
    database = influxd.new_database()  # type: ignore[attr-defined]
    store = open_historian(url.replace("http://", "influxdb://") + f"/{database}")
    try:
        assert isinstance(store, InfluxV1Historian)
        assert store.database == database
        store.write([Point(KEY, 1, 2)])
        assert store.read(KEY, 0, 10) == [(1, 2)]
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgres://x/y",
        "sqlite://host/path.db",
        "sqlite:",
        "influxdb://127.0.0.1:8086",
        "influxdb://127.0.0.1:8086/a/b",
        "influxdb:///db",
        "influxdb://127.0.0.1:notaport/db",
        "/just/a/path.db",
    ],
)
def test_bad_urls_say_what_is_accepted(url: str) -> None:
    with pytest.raises(ValueError, match=r"sqlite:///.*influxdb://"):
        open_historian(url)
