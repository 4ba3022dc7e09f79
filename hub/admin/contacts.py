from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from hub.admin.history import HistoryAdmin
from hub.imports.admin import export_csv, export_xlsx, import_export_urls
from hub.models import (
    Card,
    ClientRequest,
    ConsentRecord,
    ConsentText,
    Contact,
    ContactIdentity,
    ContactRelation,
    DialogMessage,
)
from hub.services.consent import consent_withdraw
from hub.services.contacts import contact_changed, contact_merge
from hub.services.lifecycle import lifecycle_forget
from hub.services.normalize import email_normalize, phone_normalize


class IdentityInline(admin.TabularInline):
    """Identities are written by the services (normalised, deduplicated); here they are
    shown, and a wrong one can be deleted."""

    model = ContactIdentity
    extra = 0
    fields = ("kind", "value", "verified", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class ChildrenInline(admin.TabularInline):
    model = ContactRelation
    fk_name = "parent"
    extra = 0
    autocomplete_fields = ("child",)
    verbose_name = _("child")
    verbose_name_plural = _("children")


class CardInline(admin.TabularInline):
    model = Card
    extra = 0
    fields = ("code", "status", "issued_at")


class ContactForm(forms.ModelForm):
    """Phones and e-mails are normalised like every other source; a clash is explained."""

    class Meta:
        model = Contact
        fields = ("first_name", "last_name", "middle_name", "phone", "email", "birth_date", "category")

    def clean_phone(self) -> str:
        value = self.cleaned_data.get("phone", "")
        return phone_normalize(value) if value else ""

    def clean_email(self) -> str:
        value = self.cleaned_data.get("email", "")
        return email_normalize(value) if value else ""

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        for kind in ("phone", "email"):
            value = data.get(kind)
            clash = value and ContactIdentity.objects.filter(kind=kind, value=value)
            if clash and self.instance.pk:
                clash = clash.exclude(contact=self.instance)
            if clash and clash.exists():
                self.add_error(kind, _("Already belongs to contact #%(id)s; merge the two contacts instead.")
                               % {"id": clash.first().contact_id})
        return data


@admin.register(Contact)
class ContactAdmin(HistoryAdmin):
    form = ContactForm
    list_display = ("__str__", "phone", "email", "category", "birth_date", "last_purchase_at", "last_pass_at",
                    "lifecycle_stage", "merged_into")
    list_filter = ("category", "lifecycle__stage", ("merged_into", admin.EmptyFieldListFilter), "last_pass_at",
                   "last_purchase_at")
    search_fields = ("last_name", "first_name", "phone", "email", "identities__value")
    readonly_fields = ("profiles_link", "lifecycle_stage", "last_purchase_at", "last_pass_at", "merged_into",
                       "created_at", "updated_at")
    inlines = [IdentityInline, ChildrenInline, CardInline]
    date_hierarchy = "created_at"
    list_select_related = ("merged_into", "lifecycle")
    actions = ["merge_contacts", export_csv, export_xlsx]

    @admin.display(description=_("lifecycle stage"), ordering="lifecycle__stage")
    def lifecycle_stage(self, obj: Contact) -> str:
        lifecycle = getattr(obj, "lifecycle", None) if obj.pk else None
        if lifecycle is None:
            return "—"
        return _("%(stage)s since %(since)s") % {"stage": lifecycle.get_stage_display(),
                                                 "since": lifecycle.since.strftime("%d.%m.%Y")}

    @admin.display(description=_("programs and venues"))
    def profiles_link(self, obj: Contact) -> str:
        if not obj.pk:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:hub_contact_profiles", args=[obj.pk]),
                           _("All programs and venues"))

    def get_urls(self) -> list[Any]:
        return [path("<path:object_id>/profiles/", self.admin_site.admin_view(self.profiles_view),
                     name="hub_contact_profiles"),
                *import_export_urls(self), *super().get_urls()]

    def profiles_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Every record of this client (merged, same phone / e-mail / card) with their bonus
        programs, cards and ids in each venue's system; a separate record can be merged in."""
        from loyalty.profiles import client_profiles  # the core's admin shows loyalty's picture

        contact = self.get_object(request, object_id)
        if contact is None:
            raise Http404
        if not self.has_view_permission(request, contact):
            raise PermissionDenied
        profiles = client_profiles(contact)
        if request.method == "POST":
            if not self.has_change_permission(request, contact):
                raise PermissionDenied
            return self._merge_from_profiles(request, profiles)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": contact,
                   "title": _("All programs and venues: %(name)s") % {"name": contact}, "profiles": profiles,
                   "can_merge": self.has_change_permission(request, contact)}
        return TemplateResponse(request, "admin/hub/contact_profiles.html", context)

    def _merge_from_profiles(self, request: HttpRequest, profiles: Any) -> HttpResponse:
        here = reverse("admin:hub_contact_profiles", args=[profiles.contact.pk])
        candidates = {str(item.contact.pk): item.contact for item in profiles.profiles if item.mergeable}
        duplicate = candidates.get(request.POST.get("merge", ""))
        if duplicate is None:
            self.message_user(request, _("That record cannot be merged here (already merged or not linked)."),
                              messages.ERROR)
            return HttpResponseRedirect(here)
        survivor = next(item.contact for item in profiles.profiles if item.contact.pk == profiles.survivor_id)
        try:
            with transaction.atomic():
                lifecycle_forget(duplicate)
                survivor = contact_merge(survivor, duplicate)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(request, _("Contact #%(dup)d merged into %(name)s; its history moved with it.")
                              % {"dup": duplicate.pk, "name": survivor}, messages.SUCCESS)
        return HttpResponseRedirect(here)

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        contact_changed(obj)

    @admin.action(description=_("Merge selected contacts into the oldest one"), permissions=["change"])
    def merge_contacts(self, request, queryset):  # type: ignore[no-untyped-def]
        contacts = list(queryset.filter(merged_into__isnull=True).order_by("pk"))
        if len(contacts) < 2:
            self.message_user(request, _("Select at least two contacts that are not merged yet."), messages.ERROR)
            return
        survivor = contacts[0]
        for duplicate in contacts[1:]:
            with transaction.atomic():
                lifecycle_forget(duplicate)  # one stage row per contact: the survivor's is recomputed
                survivor = contact_merge(survivor, duplicate)
        self.message_user(request, _("%(n)d contact(s) merged into %(name)s; their history moved with them.")
                          % {"n": len(contacts) - 1, "name": survivor}, messages.SUCCESS)


@admin.register(ContactRelation)
class ContactRelationAdmin(admin.ModelAdmin):
    list_display = ("parent", "child", "relation")
    list_filter = ("relation",)
    autocomplete_fields = ("parent", "child")
    search_fields = ("parent__last_name", "child__first_name", "parent__phone")


@admin.register(Card)
class CardAdmin(admin.ModelAdmin):
    list_display = ("code", "contact", "status", "issued_at")
    list_filter = ("status",)
    search_fields = ("code", "contact__phone", "contact__last_name")
    autocomplete_fields = ("contact",)


@admin.register(ConsentText)
class ConsentTextAdmin(admin.ModelAdmin):
    list_display = ("purpose", "version", "operator_name", "published_at")
    list_filter = ("purpose",)
    readonly_fields = ("text_hash", "published_at")

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        # A published text is evidence: it is never edited, a new version is published.
        if obj is not None:
            return [f.name for f in self.model._meta.fields]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        import hashlib

        obj.text_hash = hashlib.sha256(obj.text.encode()).hexdigest()
        super().save_model(request, obj, form, change)


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    list_display = ("subject_kind", "subject_id", "purpose", "channel", "method", "text_version", "granted_at",
                    "withdrawn_at")
    list_filter = ("purpose", "channel", "method", ("withdrawn_at", admin.EmptyFieldListFilter))
    search_fields = ("subject_id", "contact__phone")
    date_hierarchy = "granted_at"

    actions = ["withdraw"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_withdraw_permission(self, request):  # type: ignore[no-untyped-def]
        return request.user.has_perm("hub.change_consentrecord")

    @admin.action(description=_("Withdraw consent (client asked in person)"), permissions=["withdraw"])
    def withdraw(self, request, queryset):  # type: ignore[no-untyped-def]
        count = 0
        for record in queryset.filter(withdrawn_at__isnull=True):
            count += consent_withdraw(purpose=record.purpose, channel=ConsentRecord.Channel.ADMIN,
                                      subject_kind=record.subject_kind, subject_id=record.subject_id)
        self.message_user(request, _("%(n)d consent(s) withdrawn.") % {"n": count}, messages.SUCCESS)


@admin.register(DialogMessage)
class DialogMessageAdmin(admin.ModelAdmin):
    list_display = ("sent_at", "channel", "direction", "contact", "text")
    list_filter = ("channel", "direction")
    search_fields = ("text", "chat_id", "contact__phone")
    date_hierarchy = "sent_at"
    autocomplete_fields = ("contact",)


@admin.register(ClientRequest)
class ClientRequestAdmin(admin.ModelAdmin):
    """What clients asked through bots and sites; the CRM deal or to-do is in the outbox."""

    list_display = ("created_at", "kind", "source", "contact", "title")
    list_filter = ("kind", "source")
    search_fields = ("title", "text", "contact__phone")
    date_hierarchy = "created_at"
    readonly_fields = ("kind", "key", "contact", "source", "origin", "title", "text", "payload", "created_at")

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False
