"""The cabinet's pages (server-rendered, for a phone first): sign-in by a one-time code, the
client's card, editing contact details, withdrawing consent. They call the same services and
selectors as the API and are CSRF-protected like any Django form."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from cabinet.forms import CodeForm, DetailsForm, PhoneForm
from cabinet.selectors import active_consents, cabinet_overview
from cabinet.services import (
    Details,
    client_consent_withdraw,
    contact_details_update,
    sign_in_code_check,
    sign_in_code_send,
)
from cabinet.session import PHONE_KEY, session_contact, session_sign_in, session_sign_out
from cabinet.throttles import CodeThrottle, VerifyThrottle, throttle_wait
from hub.logging import mask_phone
from hub.models.consent import Purpose
from mailings.services.codes import CodeRefused

TOO_OFTEN = "Слишком много попыток с вашего адреса. Повторите через {} с."


def _signed_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        contact = session_contact(request)
        if contact is None:
            return redirect("cabinet:login")
        request.contact = contact  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    if session_contact(request) is not None:
        return redirect("cabinet:home")
    form = PhoneForm(request.POST or None, initial={"phone": request.session.get(PHONE_KEY, "")})
    error, status = "", 200
    if request.method == "POST" and form.is_valid():
        wait = throttle_wait(CodeThrottle, request)
        if wait is not None:
            error, status = TOO_OFTEN.format(wait), 429
        else:
            try:
                sent = sign_in_code_send(form.cleaned_data["phone"], form.cleaned_data["via"])
            except CodeRefused as exc:
                error, status = exc.reason, 400
            else:
                request.session[PHONE_KEY] = sent.phone
                messages.info(request, "Код отправлен в Telegram." if sent.channel == "telegram" else
                              "Код отправлен по SMS.")
                return redirect("cabinet:code")
    elif request.method == "POST":
        status = 400
    return render(request, "cabinet/login.html", {"form": form, "error": error}, status=status)


@require_http_methods(["GET", "POST"])
def code_page(request: HttpRequest) -> HttpResponse:
    phone = request.session.get(PHONE_KEY)
    if not phone:
        return redirect("cabinet:login")
    form = CodeForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST" and form.is_valid():
        wait = throttle_wait(VerifyThrottle, request)
        if wait is not None:
            error, status = TOO_OFTEN.format(wait), 429
        else:
            try:
                contact = sign_in_code_check(phone, form.cleaned_data["code"])
            except CodeRefused as exc:
                error, status = exc.reason, 400
            else:
                session_sign_in(request, contact)
                return redirect("cabinet:home")
    elif request.method == "POST":
        status = 400
    return render(request, "cabinet/code.html", {"form": form, "error": error, "phone": phone,
                                                 "masked": mask_phone(phone),
                                                 "resend": PhoneForm(initial={"phone": phone})}, status=status)


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    session_sign_out(request)
    messages.info(request, "Вы вышли из личного кабинета.")
    return redirect("cabinet:login")


@require_http_methods(["GET"])
@_signed_in
def home_page(request: HttpRequest) -> HttpResponse:
    overview = cabinet_overview(request.contact)  # type: ignore[attr-defined]
    return render(request, "cabinet/home.html", {"o": overview, "c": overview.contact})


@require_http_methods(["GET", "POST"])
@_signed_in
def edit_page(request: HttpRequest) -> HttpResponse:
    contact = request.contact  # type: ignore[attr-defined]
    initial = {name: getattr(contact, name) for name in ("first_name", "last_name", "middle_name", "email",
                                                         "birth_date")}
    form = DetailsForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                contact_details_update(contact, Details(**form.cleaned_data))
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, "Данные сохранены. Они появятся и на кассе.")
                return redirect("cabinet:home")
        status = 400
    return render(request, "cabinet/edit.html", {"form": form, "c": contact}, status=status)


@require_http_methods(["GET", "POST"])
@_signed_in
def withdraw_page(request: HttpRequest, purpose: str) -> HttpResponse:
    """GET asks to confirm, POST withdraws."""
    if purpose not in Purpose.values:
        raise Http404("Такого согласия нет")
    contact = request.contact  # type: ignore[attr-defined]
    if request.method == "POST":
        result = client_consent_withdraw(contact, purpose)
        if result.sign_out:
            session_sign_out(request)
            return render(request, "cabinet/signed_out.html", {"detail": result.detail})
        messages.success(request, result.detail)
        return redirect("cabinet:home")
    active = any(record.purpose == purpose for record in active_consents(contact))
    return render(request, "cabinet/withdraw.html", {"purpose": purpose, "active": active,
                                                     "label": Purpose(purpose).label})
