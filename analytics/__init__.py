"""Production KPIs (OEE per ISO 22400), energy analytics and the bureau's metrics."""
