"""E-mail through Django's e-mail backends: SMTP in production (host, port, user and password
from the connection), the console or file backend in the sandbox, locmem in tests. There is no
delivery report; a refused recipient is a refusal, a connection problem is retried."""

from __future__ import annotations

import smtplib
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core import mail

from hub.models import Connection
from hub.sync.errors import AuthError, RetryableError
from mailings.ports import OutgoingMessage, SendRefused

DEFAULT_SUBJECT_LENGTH = 80
BACKEND_OPTIONS = ("host", "port", "use_tls", "use_ssl", "timeout", "file_path")


class EmailChannel:
    def __init__(self, connection: Connection) -> None:
        options, secrets = connection.settings or {}, connection.credentials or {}
        self.backend = str(options.get("backend") or settings.EMAIL_BACKEND)
        self.from_email = str(options.get("from_email") or settings.DEFAULT_FROM_EMAIL)
        self.kwargs: dict[str, Any] = {k: options[k] for k in BACKEND_OPTIONS if k in options}
        if secrets.get("username"):
            self.kwargs["username"] = secrets["username"]
        if secrets.get("password"):
            self.kwargs["password"] = secrets["password"]
        self.kwargs.setdefault("timeout", 20)

    def _connection(self) -> Any:
        return mail.get_connection(self.backend, fail_silently=False, **self.kwargs)

    def check(self) -> str:
        backend = self._connection()
        try:
            backend.open()
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthError(f"SMTP не принял логин или пароль: {exc.smtp_code}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"почтовый сервер недоступен: {exc}") from exc
        finally:
            backend.close()
        return f"Отправитель: {self.from_email}"

    def send(self, message: OutgoingMessage) -> str:
        message_id = make_msgid(idstring=message.key)
        subject = message.subject or (message.text.splitlines()[0][:DEFAULT_SUBJECT_LENGTH] if message.text else "")
        email = mail.EmailMessage(subject=subject, body=message.text, from_email=self.from_email,
                                  to=[message.address], headers={"Message-ID": message_id},
                                  connection=self._connection())
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendRefused("Почтовый сервер не принял адрес получателя.") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthError(f"SMTP не принял логин или пароль: {exc.smtp_code}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"почтовый сервер недоступен: {exc}") from exc
        return message_id
