"""Campaign results: messages of a period per campaign and channel (sent, delivered, read,
failed, not sent, queued, opted out after the message), the offer results of loyalty.reports
beside them for those allowed to see them, and the files."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from hub.models.consent import ConsentRecord, Purpose
from loyalty.models import OfferExposure
from mailings.models import Message
from tests.analytics.conftest import msk, read_csv, read_xlsx, rows_of
from tests.loyalty.test_reports import expose, make_campaign, receipt

pytestmark = pytest.mark.django_db

URL = "/admin/analytics/campaigns/"
WEEK = {"date_from": "2026-03-01", "date_to": "2026-03-08"}
S = Message.Status


@pytest.fixture
def mailings(person) -> dict[str, object]:
    """Spring: to Anna by e-mail, delivered (she unsubscribed the next day); to Boris by e-mail,
    failed, then by SMS, sent; to Vera by Telegram, read (she had unsubscribed before); to Gleb,
    queued; to Dina, not sent. Summer: one SMS after the period. A code without a campaign."""
    spring, summer = make_campaign("Весна"), make_campaign("Лето")
    anna, boris, vera, gleb, dina = (person(n) for n in ("Анна", "Борис", "Вера", "Глеб", "Дина"))
    counter = iter(range(1000))

    def message(campaign, contact, channel: str, status: str, at: dt.datetime) -> Message:  # type: ignore[no-untyped-def]
        row = Message.objects.create(campaign=campaign, contact=contact, key=f"k{next(counter)}", channel=channel,
                                     address="x", text="Привет", status=status)
        Message.objects.filter(pk=row.pk).update(created_at=at)
        return row

    message(spring, anna, "email", S.DELIVERED, msk(3, 12))
    message(spring, boris, "email", S.FAILED, msk(3, 12))
    message(spring, boris, "sms", S.SENT, msk(3, 13))
    message(spring, vera, "telegram", S.READ, msk(3, 12))
    message(spring, gleb, "email", S.QUEUED, msk(8, 23, 59))
    message(spring, dina, "email", S.SKIPPED, msk(1, 0, 0))
    message(summer, anna, "sms", S.DELIVERED, msk(9, 0, 1))
    message(None, anna, "sms", S.DELIVERED, msk(3, 12))
    ConsentRecord.objects.filter(contact=anna, purpose=Purpose.MARKETING).update(withdrawn_at=msk(4, 9))
    ConsentRecord.objects.filter(contact=vera, purpose=Purpose.MARKETING).update(withdrawn_at=msk(2, 9))
    campaign = OfferExposure.Offer.CAMPAIGN
    expose(campaign, spring.pk, anna, OfferExposure.Group.OFFERED, at=msk(3, 12))
    expose(campaign, spring.pk, boris, OfferExposure.Group.OFFERED, at=msk(3, 12))
    expose(campaign, spring.pk, gleb, OfferExposure.Group.CONTROL, at=msk(3, 12))
    receipt(anna, msk(5, 12), "500.00")
    return {"spring": spring, "summer": summer}


def test_messages_per_campaign_and_channel_with_the_offer_results(admin_client, mailings):
    page = admin_client.get(URL, WEEK)
    assert page.status_code == 200
    rows = rows_of(page)
    #         messages sent delivered read failed skipped queued opted out
    assert [r[:11] for r in rows] == [
        ("group", "Весна", "Все каналы", "6", "3", "2", "1", "1", "1", "1", "1"),
        ("", "Весна", "E-mail", "4", "1", "1", "0", "1", "1", "1", "1"),
        ("", "Весна", "SMS", "1", "1", "0", "0", "0", "0", "0", "0"),
        ("", "Весна", "Telegram", "1", "1", "1", "1", "0", "0", "0", "0"),
    ]
    # got it, bought, conversion, control, bought in control, revenue per client, in control, uplift, uplift %
    assert rows[0][11:] == ("2", "1", "50,0 %", "1", "0", "250,00", "0,00", "250,00", "—")
    assert rows[1][11:] == ("—",) * 9
    html = page.content.decode()
    assert html.index('<svg class="rep-bars"') < html.index('<table class="rep"')
    assert [b.kind for b in page.context["report"].chart.groups[0].bars] == ["sent", "delivered", "failed",
                                                                             "opted_out"]
    assert "Весна: отписались — 1" in html
    assert f'href="{reverse("admin:loyalty_offer_results")}?kind=campaign&amp;days=30"' in html
    assert f'href="{reverse("admin:mailings_campaign_change", args=[mailings["spring"].pk])}"' in html


def test_one_channel_one_campaign_and_the_window(admin_client, mailings):
    sms = admin_client.get(URL, {**WEEK, "channel": "sms"})
    assert [r[:5] for r in rows_of(sms)] == [("group", "Весна", "Все каналы", "1", "1"), ("", "Весна", "SMS", "1", "1")]
    summer = admin_client.get(URL, {"date_from": "2026-03-09", "date_to": "2026-03-09",
                                    "campaign": mailings["summer"].pk})
    assert [r[:6] for r in rows_of(summer)] == [("group", "Лето", "Все каналы", "1", "1", "1"),
                                                ("", "Лето", "SMS", "1", "1", "1")]
    assert rows_of(summer)[0][11:] == ("—",) * 9  # nobody met the summer offer
    week = admin_client.get(URL, {**WEEK, "days": "7"})
    assert rows_of(week)[0][16] == "250,00"  # the purchase two days after is in a 7-day window too


def test_without_the_offers_permission_no_revenue(staff, mailings):
    browser = staff("mailings.view_campaign")
    page = browser.get(URL, WEEK)
    assert page.status_code == 200
    assert len(page.context["report"].table.columns) == 10
    assert "loyalty/offerexposure/results" not in page.content.decode()
    with_offers = staff("mailings.view_campaign", "loyalty.view_offerexposure").get(URL, WEEK)
    assert len(with_offers.context["report"].table.columns) == 19


def test_files(admin_client, mailings):
    rows = read_csv(admin_client.get(URL, {**WEEK, "format": "csv"}))
    assert rows[0][:10] == ["Рассылка", "Канал", "Сообщений", "Отправлено", "Доставлено", "Прочитано", "Ошибка",
                            "Не отправлено", "В очереди", "Отписались"]
    assert rows[1] == ["Весна", "Все каналы", "6", "3", "2", "1", "1", "1", "1", "1", "2", "1", "50.0", "1", "0",
                       "250.00", "0.00", "250.00", ""]
    sheet = read_xlsx(admin_client.get(URL, {**WEEK, "format": "xlsx"}))
    assert [c.value for c in sheet[4]][:4] == ["Весна", "SMS", 1, 1]
    assert sheet.cell(row=2, column=1).font.b is not True  # campaign rows are not totals
    assert sheet.cell(row=7, column=1).value.startswith("Сообщения, созданные 01.03.2026–08.03.2026")


def test_a_period_without_messages(admin_client, mailings):
    page = admin_client.get(URL, {"date_from": "2025-01-01", "date_to": "2025-01-31"})
    assert page.context["report"].chart is None
    assert "За этот период сообщений рассылок нет." in page.content.decode()
