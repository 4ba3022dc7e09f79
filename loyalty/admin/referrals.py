"""Referrals in the admin: the program's settings; clients' codes and the referrals
themselves read-only (refused ones with the reason, so abuse is visible)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from loyalty.admin.ledger import ReadOnlyMixin
from loyalty.models import Referral, ReferralCode, ReferralProgram


@admin.register(ReferralProgram)
class ReferralProgramAdmin(admin.ModelAdmin):
    list_display = ("program", "active", "trigger", "referrer_points", "friend_points", "min_purchase")
    list_filter = ("active", "trigger")
    fieldsets = (
        (None, {"fields": ("program", "active", "trigger")}),
        (_("Reward"), {"fields": ("referrer_points", "friend_points", "min_purchase")}),
        (_("Link"), {"fields": ("link_template",)}),
    )


@admin.register(ReferralCode)
class ReferralCodeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("code", "contact", "program", "created_at")
    list_filter = ("program",)
    search_fields = ("code", "contact__phone", "contact__last_name")
    list_select_related = ("contact", "program")


@admin.register(Referral)
class ReferralAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "referrer", "friend", "code", "status", "reason", "rewarded_at", "program")
    list_filter = ("status", "program")
    search_fields = ("code", "device", "card", "referrer__phone", "friend__phone")
    list_select_related = ("referrer", "friend", "program")
    date_hierarchy = "created_at"
