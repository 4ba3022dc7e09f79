"""The cabinet's pages with Django's test client: sign-in by a code from SMS.ru's emulator, the
card, the edit form, consent withdrawal with its confirmation, sign-out, CSRF and refusals
shown on the page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cabinet.services import NOT_A_CLIENT
from hub.models import ConsentRecord, Contact
from hub.models.consent import Purpose
from tests.cabinet.conftest import PHONE, TYPED, last_code, signed_in


def _text(answer) -> str:  # type: ignore[no-untyped-def]
    return answer.content.decode()


def test_signing_in_on_the_pages(client, sms, family):
    assert client.get(reverse("cabinet:home")).url == reverse("cabinet:login")
    assert client.get(reverse("cabinet:code")).url == reverse("cabinet:login")  # no phone typed yet
    page = client.get(reverse("cabinet:login"))
    assert page.status_code == 200 and 'name="viewport"' in _text(page) and "csrfmiddlewaretoken" in _text(page)
    answer = client.post(reverse("cabinet:login"), {"phone": TYPED, "via": "sms"})
    assert answer.url == reverse("cabinet:code")
    page = client.get(answer.url)
    assert "+7916*****67" in _text(page) and "Код отправлен по SMS." in _text(page)
    code = last_code(sms)
    wrong = client.post(reverse("cabinet:code"), {"code": f"{(int(code) + 1) % 1_000_000:06d}"})
    assert wrong.status_code == 400 and "Неверный код. Осталось попыток: 4." in _text(wrong)
    assert client.post(reverse("cabinet:code"), {"code": "12"}).status_code == 400
    answer = client.post(reverse("cabinet:code"), {"code": code})
    assert answer.url == reverse("cabinet:home")
    assert client.get(reverse("cabinet:login")).url == reverse("cabinet:home")  # already in
    assert client.post(reverse("cabinet:logout")).url == reverse("cabinet:login")
    assert client.get(reverse("cabinet:home")).url == reverse("cabinet:login")


def test_the_sign_in_page_says_why_not(client, sms, family, settings):
    answer = client.post(reverse("cabinet:login"), {"phone": "+79990001122", "via": "sms"})
    assert answer.status_code == 400 and NOT_A_CLIENT in _text(answer)
    answer = client.post(reverse("cabinet:login"), {"phone": TYPED, "via": "telegram"})
    assert answer.status_code == 400 and "не привязан Telegram" in _text(answer)
    assert client.post(reverse("cabinet:login"), {"phone": "", "via": "sms"}).status_code == 400
    assert client.post(reverse("cabinet:login"), {"phone": TYPED, "via": "fax"}).status_code == 400
    settings.CABINET_THROTTLE_RATES = {"cabinet_code": "1/hour"}
    answer = client.post(reverse("cabinet:login"), {"phone": TYPED, "via": "sms"})
    assert answer.status_code == 429 and "Слишком много попыток" in _text(answer)


def test_the_card_shows_everything(client, family):
    page = _text(signed_in(client, family.anna).get(reverse("cabinet:home")))
    expires = timezone.localtime(family.expires_at)
    for text in ('data-testid="balance">120<', "сгорят в ближайшие 30 дней: 70", "Покупка билетов",
                 f"сгорят {expires:%d.%m.%Y}", '"minus">-30<', "Маша", "08.03.2018", "Зал «Джунгли»",
                 f"№{family.booking.pk} · Подтверждена", "чек A-17", "Билет детский × 2 — 1000 ₽", "Аквагрим",
                 "anna@example.com", PHONE, "Рекламные рассылки", "Обработка персональных данных"):
        assert text in page, text
    assert f"№{family.past_booking.pk} " not in page


def test_editing_details_on_the_page(client, family, person):
    signed_in(client, family.anna)
    form = _text(client.get(reverse("cabinet:edit")))
    assert 'value="anna@example.com"' in form and 'value="1990-05-01"' in form
    person("Борис", email="boris@example.com")
    refused = client.post(reverse("cabinet:edit"), {"first_name": "Анна", "email": "boris@example.com"})
    assert refused.status_code == 400 and "другого клиента" in _text(refused)
    answer = client.post(reverse("cabinet:edit"), {"first_name": "Анна", "last_name": "Смирнова",
                                                   "email": "anna@new.example.com", "birth_date": "1990-05-01"},
                         follow=True)
    assert "Данные сохранены" in _text(answer) and "anna@new.example.com" in _text(answer)
    assert Contact.objects.get(pk=family.anna.pk).email == "anna@new.example.com"


def test_withdrawing_marketing_consent_asks_first(client, family):
    signed_in(client, family.anna)
    url = reverse("cabinet:withdraw", args=["marketing"])
    confirm = client.get(url)
    assert "Отозвать согласие?" in _text(confirm) and "Да, отозвать" in _text(confirm)
    assert ConsentRecord.objects.filter(purpose=Purpose.MARKETING, withdrawn_at__isnull=True).exists()
    answer = client.post(url, follow=True)
    assert "Вы отказались от рекламных рассылок" in _text(answer)
    assert not ConsentRecord.objects.filter(purpose=Purpose.MARKETING, withdrawn_at__isnull=True).exists()
    assert "отзывать нечего" in _text(client.get(url))
    assert client.get(reverse("cabinet:withdraw", args=["everything"])).status_code == 404


def test_withdrawing_personal_data_consent_signs_out_and_says_what_happens(client, family):
    signed_in(client, family.anna)
    url = reverse("cabinet:withdraw", args=["personal_data"])
    assert "уничтожим их в течение 30 дней" in _text(client.get(url))
    answer = client.post(url)
    assert answer.status_code == 200 and "30 дней" in _text(answer) and "Вы вышли" in _text(answer)
    assert client.get(reverse("cabinet:home")).url == reverse("cabinet:login")
    assert not ConsentRecord.objects.filter(contact=family.anna, withdrawn_at__isnull=True).exists()


@pytest.mark.parametrize("name", ["login", "logout", "edit"])
def test_forms_need_the_csrf_token(family, name):
    client = signed_in(Client(enforce_csrf_checks=True), family.anna)
    assert client.post(reverse(f"cabinet:{name}"), {"phone": TYPED}).status_code == 403
