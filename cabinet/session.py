"""Who is signed in to the cabinet: a contact id in the Django session (clients are not Django
users). Signing in and out changes the session key and the CSRF token, as Django's own login
does, so a session or token planted before sign-in is worthless after it."""

from __future__ import annotations

from django.http import HttpRequest
from django.middleware.csrf import rotate_token

from hub.models import Contact
from hub.services.contacts import contact_resolve

CONTACT_KEY = "cabinet_contact"
PHONE_KEY = "cabinet_phone"  # the pages' sign-in in progress: where the code was sent


def session_sign_in(request: HttpRequest, contact: Contact) -> None:
    request.session.cycle_key()
    request.session[CONTACT_KEY] = contact.pk
    request.session.pop(PHONE_KEY, None)
    rotate_token(request)


def session_sign_out(request: HttpRequest) -> None:
    signed_in = CONTACT_KEY in request.session
    request.session.pop(CONTACT_KEY, None)
    request.session.pop(PHONE_KEY, None)
    if signed_in:
        request.session.cycle_key()
        rotate_token(request)


def session_contact(request: HttpRequest) -> Contact | None:
    """The signed-in contact (after a merge: the surviving one), or None."""
    pk = request.session.get(CONTACT_KEY)
    if not isinstance(pk, int):
        return None
    contact = Contact.objects.filter(pk=pk).first()
    if contact is None:
        request.session.pop(CONTACT_KEY, None)
        return None
    contact = contact_resolve(contact)
    if contact.pk != pk:
        request.session[CONTACT_KEY] = contact.pk
    return contact
