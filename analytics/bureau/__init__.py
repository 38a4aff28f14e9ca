"""Digitalization (两化融合) and energy metrics for the economic bureau: facts per
enterprise and month, indicators, a composite index, protected aggregates by district
and industry cloud, and reports. See README.md in this folder."""
