"""Halls, staff and bookings without double booking — built by the bookings issue."""
