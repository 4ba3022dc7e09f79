"""The wizard's forms, built from a system's spec: one labelled field per value its connector
reads. Secrets are password inputs that never show the stored value; left blank, the stored
value is kept."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError

from connectors.wizard.systems import Field, SystemSpec
from hub.models import Connection

KEPT = "Сохранено; оставьте пустым, чтобы не менять."
AMO_HOSTS = (".amocrm.ru", ".amocrm.com", ".kommo.com")


def _form_field(spec_field: Field, stored: bool, initial: Any) -> forms.Field:
    help_text = spec_field.help + (f" {KEPT}" if stored and spec_field.secret else "")
    common = {"label": spec_field.label, "help_text": help_text, "required": False}
    if spec_field.kind == "bool":
        return forms.BooleanField(initial=bool(initial), **common)
    if spec_field.kind == "int":
        return forms.IntegerField(initial=initial, min_value=0, **common)
    if spec_field.secret:
        attrs = {"autocomplete": "new-password", **({"placeholder": "••••••••"} if stored else {})}
        return forms.CharField(widget=forms.PasswordInput(render_value=False, attrs=attrs), **common)
    return forms.CharField(initial=initial, **common)


class SystemFieldsForm(forms.Form):
    """The given spec fields of one system; ``values()`` splits them into credentials and settings."""

    def __init__(self, spec: SystemSpec, connection: Connection | None, spec_fields: tuple[Field, ...],
                 *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec, self.connection, self.spec_fields = spec, connection, spec_fields
        for f in spec_fields:
            store = self._stored(f)
            self.fields[f.key] = _form_field(f, f.key in store, None if f.secret else store.get(f.key))

    def _stored(self, f: Field) -> dict[str, Any]:
        if self.connection is None:
            return {}
        return (self.connection.settings if f.setting else self.connection.credentials) or {}

    def _present(self, key: str) -> bool:
        value = self.cleaned_data.get(key)
        if value not in ("", None):
            return True
        f = self.spec.field(key)
        return self._stored(f).get(key) not in ("", None)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for key, value in list(data.items()):
            if isinstance(value, str):
                data[key] = value.strip()
        for f in self.spec_fields:
            if f.required and f.kind != "bool" and f.key not in self.errors and not self._present(f.key):
                self.add_error(f.key, "Нужно для работы подключения.")
        return data

    def values(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(credentials, settings) to merge into the connection: blanks left out (kept)."""
        credentials: dict[str, Any] = {}
        settings: dict[str, Any] = {}
        for f in self.spec_fields:
            value = self.cleaned_data.get(f.key)
            if f.kind != "bool" and value in ("", None):
                continue
            (settings if f.setting else credentials)[f.key] = value
        return credentials, settings


class CredentialsForm(SystemFieldsForm):
    """Step 2: name, base URL, time zone and the system's credential fields."""

    name = forms.CharField(label="Название", max_length=200,
                           help_text="Как подключение называется в хабе, например «amoCRM — отдел продаж».")
    base_url = forms.URLField(label="Адрес (base URL)", required=False, assume_scheme="https")
    time_zone = forms.CharField(label="Часовой пояс", max_length=64, initial="Europe/Moscow",
                                help_text="Часовой пояс площадки: по нему считаются дни рождения, дни и месяцы "
                                          "(например Europe/Moscow, Asia/Yekaterinburg).")

    def __init__(self, spec: SystemSpec, connection: Connection | None, *args: Any, **kwargs: Any) -> None:
        super().__init__(spec, connection, spec.credential_fields, *args, **kwargs)
        self.order_fields(["name", "base_url", "time_zone"])
        if spec.base_url_help is None:
            del self.fields["base_url"]
        else:
            self.fields["base_url"].help_text = spec.base_url_help
            self.fields["base_url"].required = spec.base_url_required
            self.fields["base_url"].initial = spec.base_url_initial
        if connection is not None:
            self.fields["name"].disabled = True
            self.fields["name"].help_text = "Переименовать подключение можно в его карточке."
            self.initial.update(name=connection.name, base_url=connection.base_url, time_zone=connection.time_zone)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if self.connection is None and Connection.objects.filter(name=name).exists():
            raise ValidationError("Подключение с таким названием уже есть — откройте его из списка мастера.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.connection is None and self.spec.required_any and not any(
                all(self._present(key) for key in group) for group in self.spec.required_any):
            options = [", ".join(f"«{self.spec.field(key).label}»" for key in group)
                       for group in self.spec.required_any]
            raise ValidationError("Заполните " + " — или ".join(options) + ".")
        if self.spec.system == "amocrm" and not self._present("subdomain"):
            host = urlsplit(data.get("base_url") or "").hostname or ""
            suffix = next((s for s in AMO_HOSTS if host.endswith(s)), "")
            if not suffix:
                self.add_error("subdomain", "Укажите поддомен: из этого адреса его не понять.")
            else:
                data["subdomain"] = host[: -len(suffix)]
        return data

    def connection_values(self) -> dict[str, Any]:
        """Keyword arguments for wizard_connection_save."""
        credentials, settings = self.values()
        data = self.cleaned_data
        return {"name": data["name"], "base_url": data.get("base_url") if "base_url" in self.fields else None,
                "time_zone": data.get("time_zone") or None, "credentials": credentials, "settings": settings}


class HookFieldsForm(SystemFieldsForm):
    """Webhook step: the values the operator gets while setting the webhook up in the system."""

    def __init__(self, spec: SystemSpec, connection: Connection, *args: Any, **kwargs: Any) -> None:
        super().__init__(spec, connection, spec.hook_fields, *args, **kwargs)


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: by field where the form has it, else on top."""
    if hasattr(exc, "error_dict"):
        for key, errors in exc.message_dict.items():
            form.add_error(key if key in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
