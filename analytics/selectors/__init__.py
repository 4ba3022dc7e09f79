"""Reads of the analytics pages: every number aggregated by the database, in a fixed number of
queries however many rows there are."""
