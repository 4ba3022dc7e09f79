"""E-mail through Django's backends: a message goes out with its subject (or its first line)
and a Message-ID the hub keeps; an unreachable SMTP server is retried, not refused."""

from __future__ import annotations

import pytest
from django.core import mail

from connectors.email.adapter import EmailChannel
from hub.services.connections import connection_upsert
from hub.sync.errors import RetryableError
from mailings.ports import OutgoingMessage

pytestmark = pytest.mark.django_db
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def _channel(**settings):  # type: ignore[no-untyped-def]
    connection, _ = connection_upsert(name="Почта", system="email",
                                      settings={"from_email": "park@example.com", **settings})
    return EmailChannel(connection)


def test_a_message_goes_out_with_its_subject_or_first_line_and_id():
    channel = _channel(backend=LOCMEM)
    assert channel.check() == "Отправитель: park@example.com"
    first = channel.send(OutgoingMessage(key="hub-msg-1", address="anna@example.com", text="Привет!", subject="Тема"))
    channel.send(OutgoingMessage(key="hub-msg-2", address="oleg@example.com", text="Первая строка\nвторая"))
    sent = mail.outbox
    assert [(m.to, m.subject, m.from_email) for m in sent] == [
        (["anna@example.com"], "Тема", "park@example.com"), (["oleg@example.com"], "Первая строка", "park@example.com")]
    assert sent[0].extra_headers["Message-ID"] == first and "hub-msg-1" in first


def test_an_unreachable_smtp_server_is_retried_with_a_readable_reason():
    channel = _channel(backend="django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=9, timeout=2)
    with pytest.raises(RetryableError, match="почтовый сервер недоступен"):
        channel.send(OutgoingMessage(key="hub-msg-3", address="anna@example.com", text="t"))
    with pytest.raises(RetryableError, match="почтовый сервер недоступен"):
        channel.check()
