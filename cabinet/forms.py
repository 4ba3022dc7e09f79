"""The pages' forms: field types and sizes only; the rules (who is a client, whose e-mail it
is, sensible birth dates) are the services'."""

from __future__ import annotations

from django import forms

VIA = [("sms", "SMS"), ("telegram", "Telegram")]


class PhoneForm(forms.Form):
    phone = forms.CharField(label="Телефон", max_length=32, widget=forms.TextInput(attrs={
        "type": "tel", "autocomplete": "tel", "inputmode": "tel", "placeholder": "+7 912 345-67-89"}))
    via = forms.ChoiceField(label="Куда прислать код", choices=VIA, initial="sms", widget=forms.RadioSelect)


class CodeForm(forms.Form):
    code = forms.RegexField(label="Код из сообщения", regex=r"^\s*\d{6}\s*$", max_length=16,
                            error_messages={"invalid": "Код — это 6 цифр из сообщения."},
                            widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                                          "pattern": r"\d{6}", "maxlength": "6"}))


class DetailsForm(forms.Form):
    last_name = forms.CharField(label="Фамилия", max_length=150, required=False)
    first_name = forms.CharField(label="Имя", max_length=150, required=False)
    middle_name = forms.CharField(label="Отчество", max_length=150, required=False)
    email = forms.EmailField(label="E-mail", max_length=254, required=False,
                             error_messages={"invalid": "Проверьте e-mail: он набран с ошибкой."})
    birth_date = forms.DateField(label="Дата рождения", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                 error_messages={"invalid": "Проверьте дату рождения."})
