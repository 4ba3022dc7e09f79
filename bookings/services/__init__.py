"""Bookings' write services: preorders (``preorders``) and hall/staff bookings (``bookings``)."""

from bookings.services.bookings import (
    BookingConflict,
    BookingData,
    BookingLineData,
    booking_cancel,
    booking_check,
    booking_save,
)
from bookings.services.preorders import (
    PreorderLineData,
    preorder_cancel,
    preorder_changed,
    preorder_snapshot,
    preorder_upsert,
)

__all__ = [
    "BookingConflict",
    "BookingData",
    "BookingLineData",
    "PreorderLineData",
    "booking_cancel",
    "booking_check",
    "booking_save",
    "preorder_cancel",
    "preorder_changed",
    "preorder_snapshot",
    "preorder_upsert",
]
