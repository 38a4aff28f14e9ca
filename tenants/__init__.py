"""Tenants, industry clouds, plans and quotas, users and roles, and TenantScope."""
