"""The cloud: HTTP API, dashboards and (later) tenants, jobs and analytics behind them."""
