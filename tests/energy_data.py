"""Where the shared real data sets live, failing loudly (never skipping) when they do not."""

from __future__ import annotations

from pathlib import Path

STEEL_CSV = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "steel_energy"
    / "Steel_industry_data.csv"
)


def steel_csv() -> Path:
    if not STEEL_CSV.is_file():
        raise FileNotFoundError(
            f"the UCI steel-industry energy file is missing at {STEEL_CSV}; the energy tests "
            "need it (see /work/shared/data/README.md)"
        )
    return STEEL_CSV
