"""The edge agent: polls PLCs next to the machines and forwards what it reads."""
