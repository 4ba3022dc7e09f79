"""The two pages a message links to: the NPS answer and the unsubscribe confirmation. Public,
reached by an unguessable token; they write only through the mailings services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from hub.models import Contact
from hub.models.consent import ConsentRecord, Purpose
from hub.services.consent import consent_withdraw
from hub.services.contacts import contact_resolve
from mailings.models import NpsSurvey
from mailings.services.nps import nps_answer
from mailings.services.outgoing import optout_contact


@require_http_methods(["GET", "POST"])
def nps_page(request: HttpRequest, token: str) -> HttpResponse:
    survey = NpsSurvey.objects.filter(token=token).select_related("contact").first()
    if survey is None:
        raise Http404("Опрос не найден")
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            survey = nps_answer(survey, request.POST.get("score"), request.POST.get("comment", "")[:5000],
                                channel="link")
        except ValidationError as exc:
            errors, status = exc.messages, 400
        else:
            return render(request, "mailings/nps.html", {"survey": survey, "done": True})
    preset = request.GET.get("score", "")
    return render(request, "mailings/nps.html", {"survey": survey, "errors": errors, "scores": range(11),
                                                 "preset": preset}, status=status)


@require_http_methods(["GET", "POST"])
def unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks, POST unsubscribes: mail scanners follow links, people press the button."""
    contact_id = optout_contact(token)
    contact = Contact.objects.filter(pk=contact_id).first() if contact_id else None
    if contact is None:
        raise Http404("Ссылка недействительна")
    contact = contact_resolve(contact)  # the link may predate a merge
    if request.method == "POST":
        consent_withdraw(purpose=Purpose.MARKETING, channel=ConsentRecord.Channel.WEB, contact=contact)
        return render(request, "mailings/unsubscribe.html", {"done": True})
    return render(request, "mailings/unsubscribe.html", {"done": False})
