"""Tilda at the hub: the form webhook. A submission is checked (API key, shape), stored in the
Inbox keyed by ``tranid`` and answered ``ok`` at once; the inbox task then makes the contact,
the consent records, and either a client request (a lead → a CRM deal, "contact a manager" →
a CRM to-do) or, for a cart, a purchase with its lines and the points paid with.

Connection: ``credentials["api_key"]``; settings (all optional): ``api_key_field`` (header or
body field name, default ``api_key``), ``forms`` ({formid: "lead" | "callback"}),
``consent_fields`` ({"personal_data": name(s), "marketing": name(s)}), ``fields`` (extra names
per role: name, phone, email, points…), ``product_kind`` (default "ticket"), ``sales_point``
(default "Tilda"). What Tilda sends and what is assumed is in ``mapping``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from connectors.base.connector import Connector
from connectors.base.webhooks import require_post, require_secret, webhook_connection
from connectors.tilda import mapping
from hub.models import ClientRequest, Connection, Contact, Inbox, Product
from hub.models.consent import ConsentRecord, Purpose
from hub.services.catalog import product_for_source
from hub.services.consent import consent_grant, consent_text_current
from hub.services.contacts import contact_from_web
from hub.services.requests import client_request_create
from hub.services.sales import LineData, purchase_record
from hub.sync.types import CheckResult, InboundEvent, WebhookParse
from loyalty.models import Entry
from loyalty.services.ledger import ledger_redeem

log = logging.getLogger(__name__)

SOURCE = "tilda"  # ClientRequest.source


def _key_field(connection: Connection | None) -> str:
    name = str(((connection.settings or {}) if connection else {}).get("api_key_field") or "").strip()
    return name or mapping.API_KEY_FIELD


def _long_key(prefix: str, value: str, limit: int) -> str:
    """An idempotency key that fits its column: hashed, never truncated (two must not collide)."""
    key = f"{prefix}{value}"
    return key if len(key) <= limit else prefix + "sha256:" + hashlib.sha256(value.encode()).hexdigest()


class TildaConnector(Connector):
    system = "tilda"
    title = _("Tilda")

    def check_connection(self, connection: Connection) -> CheckResult:
        """Tilda calls us, we never call it: all there is to check is that a key is set."""
        if not (connection.credentials or {}).get("api_key"):
            return CheckResult(ok=False, message="Не задан API-ключ: Tilda должна присылать его с каждой заявкой.")
        return CheckResult(ok=True, message=f"Ждём заявки Tilda на {connection.webhook_path} "
                                            f"(ключ в поле «{_key_field(connection)}»).")

    # ------------------------------------------------------------------ webhook
    @staticmethod
    def _body(request: HttpRequest) -> mapping.Body:
        """The body read once per request (the key check needs it before parsing does)."""
        cached = getattr(request, "_tilda_body", None)
        if isinstance(cached, ValidationError):
            raise cached
        if cached is None:
            try:
                cached = mapping.read_body(request.body, request.content_type or "")
            except ValidationError as exc:
                request._tilda_body = exc  # type: ignore[attr-defined]
                raise
            request._tilda_body = cached  # type: ignore[attr-defined]
        return cached

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        """The API key, from the configured header or body field, compared in constant time.
        A bare ``test=test`` handshake is let through: it stores and does nothing."""
        require_post(request)
        field = _key_field(connection)
        sent = request.headers.get(field, "")
        if not sent:  # then it is in the body: a body that cannot be read is a 400 with its reason
            body = self._body(request)
            sent = mapping.key_sent(body, field)
            if not sent and mapping.is_handshake(body):
                return
        require_secret(str((connection.credentials or {}).get("api_key") or ""), sent,
                       f"Неверный или отсутствующий API-ключ (поле «{field}»), либо ключ не задан в подключении.",
                       status=403)

    def redact(self, raw_body: str, request: HttpRequest) -> str:
        """The key is not kept in the Inbox: its value in a form or JSON body is masked."""
        match = getattr(request, "resolver_match", None)
        key = (match.kwargs.get("key") if match else "") or ""
        connection = webhook_connection(self.system, key)[0] if key else None  # the view's copy: no query
        field = re.escape(_key_field(connection))
        raw_body = re.sub(rf"(?i)((?:^|&){field}=)[^&]*", r"\1***", raw_body)
        return re.sub(rf'(?i)("{field}"\s*:\s*)"(?:[^"\\]|\\.)*"', r'\1"***"', raw_body)

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        body = self._body(request)
        if mapping.is_handshake(body):
            return WebhookParse(events=[], response_body=mapping.OK)
        sub = mapping.submission(body, _key_field(connection))
        settings = connection.settings or {}
        kind = mapping.kind_of(sub, settings)
        if kind == mapping.ORDER:
            mapping.points_spent(sub, mapping.order(sub.payment), settings)  # refused now if unreadable
        return WebhookParse(events=[InboundEvent(event_key=sub.tranid, kind=kind, payload=mapping.to_payload(sub))],
                            response_body=mapping.OK)

    # ------------------------------------------------------------------ processing
    def handle_inbox(self, row: Inbox, fetched: Any = None) -> dict[str, Any]:
        """Contact, consents, then the request or the order. Anything that must not lose the
        submission (a bad phone, no consent text published, too few points) is recorded in the
        row's ``payload["outcome"]`` instead of failing it."""
        connection = row.connection
        if connection is None:
            raise ValidationError("Событие без подключения.")
        settings = connection.settings or {}
        sub = mapping.from_payload(row.payload)
        if not sub.tranid:
            raise ValidationError("Событие без tranid.")
        outcome: dict[str, Any] = {"warnings": []}
        who = mapping.person(sub, settings)
        for role in who.dropped:
            outcome["warnings"].append({"phone": "Телефон в форме не распознан: контакт без телефона.",
                                        "email": "E-mail в форме некорректен: контакт без e-mail."}[role])
        contact = self._contact(connection, who)
        outcome["contact"] = contact.pk if contact else None
        if contact is None:
            outcome["warnings"].append("В форме нет ни телефона, ни e-mail: контакт не создан.")
        outcome["consents"] = self._consents(sub, settings, who, contact, outcome)
        kind = mapping.kind_of(sub, settings)
        if kind == mapping.ORDER:
            self._order(row, connection, sub, contact, outcome)
        else:
            request_kind = ClientRequest.Kind.CALLBACK if kind == mapping.CALLBACK else ClientRequest.Kind.LEAD
            label = sub.formname or sub.formid or "форма"
            title = (f"Просьба связаться (Tilda, {label})" if request_kind == ClientRequest.Kind.CALLBACK
                     else f"Заявка с сайта (Tilda, {label})")
            request, _created = client_request_create(
                kind=request_kind, source=SOURCE, key=_long_key("tilda:", f"{sub.formid}:{sub.tranid}", 160),
                contact=contact, title=title, text=mapping.form_text(sub), payload=sub.fields, origin=connection)
            outcome["request"] = request.pk
        if not outcome["warnings"]:
            del outcome["warnings"]
        else:
            log.warning("tilda: inbox %s (%s): %d warning(s)", row.pk, row.kind, len(outcome["warnings"]))
        Inbox.objects.filter(pk=row.pk).update(payload={**row.payload, "outcome": outcome})
        return outcome

    def _contact(self, connection: Connection, who: mapping.Person) -> Contact | None:
        return contact_from_web(first_name=who.first_name, last_name=who.last_name, phone=who.phone,
                                email=who.email, connection=connection)

    def _consents(self, sub: mapping.Submission, settings: dict[str, Any], who: mapping.Person,
                  contact: Contact | None, outcome: dict[str, Any]) -> list[int]:
        """A consent record per ticked checkbox (152-FZ: personal data and marketing apart), on
        the phone (else the e-mail), with the form and submission ids as its source."""
        records = []
        subject_kind, subject_id = ("phone", who.phone) if who.phone else ("email", who.email)
        for purpose in (Purpose.PERSONAL_DATA, Purpose.MARKETING):
            field = mapping.consent_field(sub, purpose, settings)
            if field is None:
                continue
            if not subject_id:
                outcome["warnings"].append(f"Согласие «{Purpose(purpose).label}» отмечено, но в форме нет "
                                           "телефона или e-mail: записать его не на кого.")
                continue
            if consent_text_current(purpose) is None:
                outcome["warnings"].append(f"Согласие «{Purpose(purpose).label}» отмечено, но текст согласия не "
                                           "опубликован: запись не создана.")
                continue
            source = {"formid": sub.formid, "tranid": sub.tranid, "field": field, "value": sub.fields.get(field, "")}
            for role in ("ip", "user_agent", "page"):
                value = sub.get(mapping.role_names(role, settings))
                if value:
                    source[role] = value[:500]
            record = consent_grant(purpose=purpose, subject_kind=subject_kind, subject_id=subject_id,
                                   channel=ConsentRecord.Channel.WEB, method=ConsentRecord.Method.CHECKBOX,
                                   contact=contact, source=source)
            records.append(record.pk)
        return records

    def _order(self, row: Inbox, connection: Connection, sub: mapping.Submission, contact: Contact | None,
               outcome: dict[str, Any]) -> None:
        """The cart as a purchase (loyalty earns on it by itself); points the client paid with
        are redeemed first, and a refusal (too few points…) is noted, not allowed to lose it."""
        settings = connection.settings or {}
        cart = mapping.order(sub.payment)
        if cart is None:  # kind_of said order: the stored cart cannot have vanished
            raise ValidationError("В заказе нет корзины.")
        orderid = cart.orderid or sub.tranid[: mapping.ORDERID_MAX]
        points = mapping.points_spent(sub, cart, settings)
        if points > 0:
            if contact is None:
                outcome["warnings"].append(f"Баллы ({points}) не списаны: заказ без контакта.")
            else:
                try:
                    with transaction.atomic():
                        ledger_redeem(contact, points, reason=f"Оплата заказа Tilda №{orderid}",
                                      source=Entry.Source.PURCHASE, source_ref=f"tilda:{orderid}"[:128],
                                      idempotency_key=_long_key(f"tilda:{connection.pk}:", f"{orderid}:redeem", 160))
                    outcome["redeemed"] = str(points)
                except ValidationError as exc:
                    outcome["warnings"].append("Баллы не списаны: " + "; ".join(exc.messages))
                    log.warning("tilda: inbox %s: points not redeemed (%s)", row.pk,
                                getattr(exc, "code", None) or "refused")
        kind = str(settings.get("product_kind") or Product.Kind.TICKET)
        kind = kind if kind in Product.Kind.values else Product.Kind.TICKET
        lines = [LineData(product=self._product(connection, line, kind), quantity=line.quantity, price=line.price,
                          name=line.title) for line in cart.lines]
        purchase, _created = purchase_record(
            purchased_at=row.received_at, lines=lines, contact=contact, number=orderid,
            sales_point=str(settings.get("sales_point") or "Tilda")[:200], connection=connection,
            external_id=orderid)
        outcome["purchase"] = purchase.pk
        if cart.amount is not None and cart.amount != purchase.total:
            outcome["declared_amount"] = str(cart.amount)  # a discount, promo code or delivery Tilda applied
        if cart.promocode:
            outcome["promocode"] = cart.promocode

    @staticmethod
    def _product(connection: Connection, line: mapping.Line, kind: str) -> Product:
        """Known by Tilda's external id, else by SKU, else by name."""
        external_id = _long_key("", line.externalid or (f"sku:{line.sku}" if line.sku else f"name:{line.name.lower()}"),
                                128)
        return product_for_source(connection, external_id, name=line.name, price=line.price, kind=kind, sku=line.sku)
