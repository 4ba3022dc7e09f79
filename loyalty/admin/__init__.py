"""Loyalty admin, one module per area; importing them registers the model admins."""

from loyalty.admin import (  # noqa: F401 - registration
    api,
    certificates,
    ledger,
    limits,
    offers,
    promos,
    receipts,
    referrals,
    rules,
    subscriptions,
    tiers,
)
