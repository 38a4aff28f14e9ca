"""Energy analytics and optimisation (issue 7): KPIs from power-meter data, time-of-use
tariffs, ASHRAE Guideline 14 baselines and IPMVP option C savings, waste detection, and a
MILP scheduler for shiftable loads. See README.md in this folder for the definitions."""
