"""Predictive maintenance: features, models, predictions, alerts and work orders."""
