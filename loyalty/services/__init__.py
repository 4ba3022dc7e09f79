"""Loyalty write services: the ledger (``ledger``)."""
