"""Bonus liability: points on the accounts of the programs the hub keeps (external programs
left out), and what will burn in the next N days per week — the unspent remainder of each
credit, exactly what the expiry job then writes off, and what the client's card shows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.selectors.liability import bonus_liability
from hub.models import Connection, Contact
from loyalty.models import Account, Entry, Program
from loyalty.selectors import balance_for
from loyalty.services.ledger import ledger_earn, ledger_expire, ledger_redeem, program_default
from tests.analytics.conftest import read_csv, read_xlsx, rows_of

pytestmark = pytest.mark.django_db

URL = "/admin/analytics/liability/"


@pytest.fixture
def ledger() -> dict[str, object]:
    """Main program: Anna earned 100 (burns in 3 days), 50 (in 10 days) and 30 (never) and spent
    60 (from the earliest-burning 100); Boris's 20 are past their date, not yet written off;
    Vera's 70 burn in 40 days. Club: Gleb's 10 burn in 20 days. An external program's 999 do
    not count."""
    now = timezone.now()
    main = program_default()
    club = Program.objects.create(code="club", name="Клуб")
    anna, boris, vera, gleb = (Contact.objects.create(first_name=n) for n in ("Анна", "Борис", "Вера", "Глеб"))

    def earn(contact: Contact, points: str, days: int | None, program: Program = main) -> Entry:
        return ledger_earn(contact, points, reason="Тест", source=Entry.Source.MANUAL, program=program,
                           idempotency_key=f"earn:{contact.pk}:{points}:{days}",
                           expires_at=now + dt.timedelta(days=days) if days is not None else None)

    earn(anna, "100", 3)
    earn(anna, "50", 10)
    earn(anna, "30", None)
    ledger_redeem(anna, "60", reason="Оплата", source=Entry.Source.PURCHASE, idempotency_key="spend", program=main)
    earn(boris, "20", -2)
    earn(vera, "70", 40)
    earn(gleb, "10", 20, club)
    outside = Program.objects.create(code="ext", name="Внешняя",
                                     connection=Connection.objects.create(system="samosale", name="SamoSale"))
    Account.objects.create(contact=anna, program=outside, balance=Decimal("999"))
    return {"main": main, "club": club, "anna": anna, "boris": boris}


def test_balances_and_what_burns_per_program(admin_client, ledger):
    page = admin_client.get(URL)
    assert page.status_code == 200
    rows = rows_of(page)
    assert [r[:7] for r in rows] == [
        ("", "Бонусная программа", "3", "210,00", "110,00", "20,00", "100,00"),
        ("", "Клуб", "1", "10,00", "10,00", "0,00", "0,00"),
        ("total", "Итого", "4", "220,00", "120,00", "20,00", "100,00"),
    ]
    # weeks 1–5 (the fifth is two days): Anna's 40 left of 100, her 50, Gleb's 10
    assert [r[7:] for r in rows] == [("40,00", "50,00", "0,00", "0,00", "0,00"),
                                     ("0,00", "0,00", "10,00", "0,00", "0,00"),
                                     ("40,00", "50,00", "10,00", "0,00", "0,00")]
    assert "Внешняя" not in page.content.decode().split('id="rep-table"')[1]
    chart = page.context["report"].chart
    assert chart.groups[0].label == "Просрочено" and len(chart.groups) == 6
    assert [b.kind for b in chart.groups[1].bars] == ["p0", "p1"]
    assert chart.groups[1].bars[0].title.endswith(": 40,00 баллов")
    html = page.content.decode()
    assert html.index('<svg class="rep-bars"') < html.index('<table class="rep"')
    assert 'class="rep-legend"' in html and "Клуб" in html


def test_a_shorter_horizon_and_one_program(admin_client, ledger):
    week = admin_client.get(URL, {"days": "7", "program": ledger["main"].pk})
    assert [r[:7] for r in rows_of(week)] == [("", "Бонусная программа", "3", "210,00", "60,00", "20,00", "150,00")]
    assert week.context["report"].table.header[-1].startswith("Сгорит ")


def test_the_numbers_are_what_the_card_shows_and_what_the_expiry_job_writes_off(ledger):
    data = bonus_liability(days=30)
    main = data.programs[0]
    assert main.expiring == {0: Decimal("20.00"), 1: Decimal("40.00"), 2: Decimal("50.00")}
    assert balance_for(ledger["anna"], ledger["main"]).expiring_30_days == main.expiring[1] + main.expiring[2]
    assert ledger_expire() == 1
    expired = Entry.objects.get(kind=Entry.Kind.EXPIRE)
    assert -expired.points == Decimal("20.00")
    after = bonus_liability(days=30).programs[0]
    assert (after.balance, after.overdue, after.expiring_total) == (Decimal("190.00"), 0, Decimal("90.00"))
    assert after.clients == 2  # Boris has nothing left


def test_files(admin_client, ledger):
    rows = read_csv(admin_client.get(URL, {"format": "csv"}))
    assert rows[0][:6] == ["Программа", "Клиентов с баллами", "Баллов на счетах", "Сгорит за 30 дн.",
                           "В т. ч. просрочено", "Останется"]
    assert rows[1][:8] == ["Бонусная программа", "3", "210.00", "110.00", "20.00", "100.00", "40.00", "50.00"]
    sheet = read_xlsx(admin_client.get(URL, {"format": "xlsx"}))
    assert [c.value for c in sheet[4]][:6] == ["Итого", 4, 220, 120, 20, 100]
    assert sheet.cell(row=2, column=3).number_format == "#,##0.00"
    assert "если баллы не потратят" in sheet.cell(row=6, column=1).value


def test_no_points_says_so(admin_client, db):
    program_default()
    page = admin_client.get(URL)
    html = page.content.decode()
    assert page.context["report"].chart is None and "Баллов на счетах нет." in html
    assert rows_of(page) == []
