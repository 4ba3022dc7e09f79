"""Everything `make run` needs after migrate: an admin user and the demo configuration."""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from hub.models.consent import Purpose
from hub.services.connections import connection_upsert
from hub.services.consent import consent_text_current, consent_text_publish
from hub.services.roles import AUDITOR, MANAGER, OPERATOR
from mailings.models import Campaign, Template
from mailings.services.schedules import campaign_save

PD_TEXT = (
    "Я даю согласие на обработку моих персональных данных (имя, телефон, e-mail, дата рождения, "
    "данные детей) для регистрации в программе лояльности, учёта посещений и покупок и связи со мной "
    "по вопросам обслуживания. Согласие действует до его отзыва; отозвать его можно в любой момент."
)
MARKETING_TEXT = "Я согласен получать рекламные и информационные сообщения о предложениях и мероприятиях."


class Command(BaseCommand):
    help = ("Create the admin user (password printed, kept in var/) and the demo configuration: consent "
            "texts and connections to the emulators that `make run` starts (generic HTTP, Lime, amoCRM, "
            "Bitrix24).")

    def handle(self, *args: object, **opts: object) -> None:
        password_file = settings.VAR_DIR / "admin-password.txt"
        password = os.environ.get("HUB_ADMIN_PASSWORD")
        if not password:
            if not password_file.exists():
                password_file.write_text(secrets.token_urlsafe(12))
                password_file.chmod(0o600)
            password = password_file.read_text().strip()
        username = os.environ.get("HUB_ADMIN_USER", "admin")
        user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True,
                                                                                      "is_superuser": True})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        for purpose, text in ((Purpose.PERSONAL_DATA, PD_TEXT), (Purpose.MARKETING, MARKETING_TEXT)):
            if consent_text_current(purpose) is None:
                consent_text_publish(purpose=purpose, version="1", text=text, operator_name="ООО «Демо-парк»",
                                     processors=["SMS-шлюз"], data_categories=["имя", "телефон", "e-mail"])
        connection_upsert(name="Демо: внешняя система", system="webhook", base_url="http://127.0.0.1:8101",
                          key="demo-generic", credentials={"token": "demo-token", "secret": "demo-secret"},
                          settings={"rate_limit": "10/second"}, poll_interval=30)
        connection_upsert(name="Демо: Лайм (аквапарк «Волна»)", system="lime", base_url="http://127.0.0.1:8102",
                          credentials={"username": "api@venue.example", "password": "demo-lime-password"},
                          settings={"installation_id": 1, "cashdesk_id": 1}, poll_interval=15)
        connection_upsert(name="Демо: amoCRM", system="amocrm", base_url="http://127.0.0.1:8103", key="demo-amocrm",
                          credentials={"long_lived_token": "demo-amocrm-token"},
                          settings={"subdomain": "demo", "sandbox_ui": "http://127.0.0.1:8103/_emulator/ui",
                                    "catalog_id": "5001",
                                    "routes": {"request": {"pipeline_id": "3001", "stage_id": "30011"},
                                               "purchase": {"pipeline_id": "3002", "stage_id": "30020"},
                                               "pass": {"pipeline_id": "3003", "stage_id": "30030"},
                                               "preorder": {"pipeline_id": "3004", "stage_id": "30040"},
                                               "ticket_sale": {"pipeline_id": "3007", "stage_id": "30070"}}})
        connection_upsert(name="Демо: Битрикс24", system="bitrix24", base_url="http://127.0.0.1:8104",
                          key="demo-bitrix24",
                          credentials={"webhook_url": "http://127.0.0.1:8104/rest/1/demo-b24-code/",
                                       "application_token": "demo-b24-app-token"},
                          settings={"sandbox_ui": "http://127.0.0.1:8104/_emulator/ui",
                                    "routes": {"request": {"pipeline_id": "0", "stage_id": "NEW"},
                                               "purchase": {"pipeline_id": "1", "stage_id": "C1:NEW"},
                                               "pass": {"pipeline_id": "2", "stage_id": "C2:NEW"},
                                               "preorder": {"pipeline_id": "3", "stage_id": "C3:NEW"},
                                               "ticket_sale": {"pipeline_id": "6", "stage_id": "C6:NEW"}}})
        connection_upsert(name="Демо: SMS.ru", system="smsru", base_url="http://127.0.0.1:8105", key="demo-smsru",
                          credentials={"api_id": "demo-smsru-api-id"})
        connection_upsert(name="Демо: Telegram-бот", system="telegram", base_url="http://127.0.0.1:8106",
                          key="demo-telegram",
                          credentials={"token": "100200:demo-bot-token", "webhook_secret": "demo-tg-secret"})
        connection_upsert(name="Демо: сайт на Tilda", system="tilda", key="demo-tilda",
                          credentials={"api_key": "demo-tilda-key"}, settings={"forms": {"callback": "callback"}})
        connection_upsert(name="Демо: сайт организатора (1С-Битрикс)", system="site", base_url="http://127.0.0.1:8108",
                          key="demo-site", credentials={"secret": "demo-site-secret"})
        connection_upsert(name="Демо: почта (письма в var/mail)", system="email",
                          settings={"backend": "django.core.mail.backends.filebased.EmailBackend",
                                    "file_path": str(settings.VAR_DIR / "mail"), "from_email": "park@example.com"})
        demo_mailings()
        secret = demo_loyalty()
        self.stdout.write(f"admin login: {username} / {password}")
        for login, role in demo_staff(password).items():
            self.stdout.write(f"{role} login: {login} / {password}")
        if secret:
            self.stdout.write(f"loyalty API key of the demo till (shown once): {secret}")


def demo_staff(password: str) -> dict[str, str]:
    """One demo user per role (same password as the admin), to see the admin as each of them."""
    users = {}
    for login, role in (("operator", OPERATOR), ("manager", MANAGER), ("auditor", AUDITOR)):
        user, _ = get_user_model().objects.get_or_create(username=login, defaults={"is_staff": True})
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name=role.name))
        users[login] = role.name
    return users


def demo_mailings() -> None:
    """A birthday campaign to look at (and run from its page): Telegram, else SMS, else e-mail."""
    if Campaign.objects.filter(name="День рождения").exists():
        return
    template, _ = Template.objects.get_or_create(
        name="С днём рождения",
        defaults={"body": "{{ first_name }}, с днём рождения! Дарим "
                          '{{ bonus_points|plural:"бонусный балл,бонусных балла,бонусных баллов" }}. '
                          "Отписаться: {{ optout_link }}"})
    campaign_save(Campaign(name="День рождения", kind=Campaign.Kind.BIRTHDAY, template=template,
                           channels=["telegram", "sms", "email"], bonus_points=300, bonus_expiry_days=30,
                           days_before=0, audience=Campaign.Audience.BOTH))


def demo_loyalty() -> str:
    """A program to try the engine on: levels, rules, a promo code, a limit, a till's key
    (its secret is returned, to be printed once; none when it exists already)."""
    from decimal import Decimal

    from loyalty.models import ApiKey, EarningRule, PromoCode, PurchaseLimit, Tier
    from loyalty.services.api_keys import api_key_create
    from loyalty.services.ledger import program_default

    program = program_default()
    if not program.tiers.exists():
        program.earn_percent, program.max_redeem_share = Decimal(5), Decimal(30)
        program.save()
        for name, threshold, percent in (("Базовый", 0, None), ("Серебро", 500, 7), ("Золото", 2000, 10)):
            Tier.objects.create(program=program, name=name, threshold=Decimal(threshold),
                                earn_percent=Decimal(percent) if percent else None)
        EarningRule.objects.create(program=program, name="Выходные: баллы ×2", position=10,
                                   effect=EarningRule.Effect.MULTIPLY, value=Decimal(2), weekdays="67")
        EarningRule.objects.create(program=program, name="Первая покупка: +100 баллов", position=20,
                                   effect=EarningRule.Effect.BONUS, value=Decimal(100),
                                   occasion=EarningRule.Occasion.FIRST_PURCHASE)
        EarningRule.objects.create(program=program, name="День рождения: +300 баллов", position=30,
                                   effect=EarningRule.Effect.BONUS, value=Decimal(300), birthday_days=3,
                                   occasion=EarningRule.Occasion.BIRTHDAY)
        PromoCode.objects.create(program=program, code="WELCOME10", name="Скидка 10% новым гостям",
                                 discount_percent=Decimal(10), max_uses_per_client=1)
        PurchaseLimit.objects.create(program=program, name="Не больше 20 позиций в день",
                                     measure=PurchaseLimit.Measure.QUANTITY, max_value=Decimal(20))
    if ApiKey.objects.exists():
        return ""
    return api_key_create("Демо-касса", program)[1]
