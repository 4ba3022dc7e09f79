"""Loyalty events other parts listen to (levels, referrals)."""

from django.dispatch import Signal

# sender=Receipt; receipt=Receipt. After the receipt's transaction commits.
receipt_confirmed = Signal()
# sender=Receipt; receipt=Receipt. After a refund commits.
receipt_refunded = Signal()
