"""Bonus ledger, programs, tiers… — built by the bonuses issue on top of hub.Contact."""
