"""What the bot says, by key: the defaults here, the operator's wording in ``BotText`` (admin).
Texts are Django templates rendered with ``mailings.services.texts.text_render`` (the same
engine and ``plural`` filter as mailings)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError

from bots.models import BotText
from mailings.services.texts import template_check, text_render

log = logging.getLogger(__name__)

DEFAULTS: dict[str, str] = {
    "consent_request": (
        "Здравствуйте! Прежде чем продолжить, нам нужно ваше согласие на обработку персональных данных "
        "на условиях документа выше (редакция {{ version }}, оператор: {{ operator }}). Вы согласны?"),
    "consent_button_yes": "Согласен",
    "consent_button_no": "Не согласен",
    "consent_declined": (
        "Без согласия на обработку персональных данных бот не сможет вам помочь. "
        "Если передумаете, нажмите «Согласен» выше или напишите любое сообщение."),
    "not_configured": "Бот пока не настроен: не опубликован текст согласия. Попробуйте позже.",
    "marketing_request": (
        "Хотите получать новости, акции и поздравления с днём рождения? Это отдельное согласие, "
        "его можно отозвать в любой момент, написав СТОП.\n\n{{ consent_text }}\n(редакция {{ version }})"),
    "marketing_button_yes": "Да, присылайте",
    "marketing_button_no": "Нет, спасибо",
    "phone_request_telegram": "Чтобы найти вас в нашей базе, поделитесь номером телефона кнопкой ниже.",
    "phone_button": "📱 Поделиться номером",
    "phone_not_own": "Пожалуйста, поделитесь своим номером телефона: кнопкой «Поделиться номером».",
    "phone_request_vk": (
        "Напишите ваш номер телефона, например +7 900 123-45-67. Мы пришлём код подтверждения по SMS."),
    "phone_invalid": "Не получилось разобрать номер телефона. Напишите его так: +7 900 123-45-67.",
    "code_sent": (
        "Мы отправили код подтверждения на номер {{ phone }}. Напишите его сюда. "
        "Чтобы указать другой номер, напишите «другой номер»."),
    "code_wrong": "Код не подошёл. Проверьте и напишите ещё раз.",
    "code_expected": (
        "Напишите 6 цифр из SMS. Если код не пришёл, напишите номер ещё раз — пришлём новый "
        "(не чаще раза в минуту)."),
    "code_refused": "{{ reason }}",
    "registered": "Готово{% if name %}, {{ name }}{% endif %}! Мы вас узнали.",
    "menu": "Чем можем помочь?",
    "menu_balance": "💰 Бонусы",
    "menu_bookings": "📅 Мои бронирования",
    "menu_manager": "💬 Связаться с менеджером",
    "menu_info": "ℹ️ О нас",
    "menu_invite": "🎁 Пригласить друга",
    "balance": (
        "На вашем счёте {{ points|plural:\"балл,балла,баллов\" }}."
        "{% if expiring %} В ближайшие 30 дней сгорят {{ expiring }}.{% endif %}"
        "{% if history %}\n\nПоследние операции:{% for e in history %}\n{{ e.date }} {{ e.sign }}{{ e.points }} — "
        "{{ e.reason }}{% if e.expires %} (сгорят {{ e.expires }}){% endif %}{% endfor %}{% endif %}"),
    "bookings": (
        "{% if bookings %}Ваши ближайшие бронирования:{% for b in bookings %}\n• {{ b.when }} — {{ b.what }}"
        " ({{ b.status }}){% endfor %}{% else %}Предстоящих бронирований нет.{% endif %}"),
    "ask_question": "Напишите ваш вопрос одним сообщением — мы передадим его менеджеру.",
    "passed_to_manager": "Спасибо! Мы передали ваш вопрос менеджеру, он скоро с вами свяжется.",
    "info": "Здесь будет информация о нас: адрес, часы работы, телефон. Текст задаётся в админке (Тексты бота → info).",
    "invite": (
        "Пригласите друга — отправьте ему вашу ссылку:\n{{ link }}"
        "{% if friend_points %}\nДруг получит {{ friend_points|plural:\"балл,балла,баллов\" }}.{% endif %}"
        "{% if referrer_points %}\nВы получите {{ referrer_points|plural:\"балл,балла,баллов\" }}"
        "{% if first_purchase %} после его первой покупки{% endif %}.{% endif %}"),
    "unknown": "Не совсем понял вас. Выберите, что вас интересует:",
}


def bot_text(key: str, **context: Any) -> str:
    """The operator's text for ``key`` (else the default), rendered; a broken operator text
    falls back to the default rather than leaving the client without an answer."""
    custom = BotText.objects.filter(key=key).values_list("text", flat=True).first()
    for source in (custom, DEFAULTS[key]):
        if source:
            try:
                return text_render(source, context)
            except Exception:
                log.warning("bot text %r does not render; the default is used", key, exc_info=True)
    return ""


def bot_text_check(key: str, text: str) -> None:
    """A readable admin error for an unknown key or a text that would not render."""
    if key not in DEFAULTS:
        raise ValidationError({"key": f"Неизвестный ключ. Возможные: {', '.join(sorted(DEFAULTS))}."})
    template_check(text)
