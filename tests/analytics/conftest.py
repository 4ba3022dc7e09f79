"""Helpers of the analytics page tests: sales data on two venues in different time zones, a
staff user with chosen permissions, and the downloads read back."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission, User
from django.http import HttpResponse
from django.test import Client
from openpyxl import load_workbook

from hub.models import Connection, ExternalRef, Product, ProductCategory, Purchase, PurchaseLine

MSK, YEKT = ZoneInfo("Europe/Moscow"), ZoneInfo("Asia/Yekaterinburg")


def msk(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=MSK)


def read_csv(response: HttpResponse) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def read_xlsx(response: HttpResponse):  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(io.BytesIO(response.content)).active


def rows_of(response: HttpResponse) -> list[tuple[str, ...]]:
    """The page's table as (css class, first cell, other cells…) text tuples."""
    return [(row.kind, *(cell.text for cell in cells)) for row, cells in response.context["report"].table.html_rows()]


@pytest.fixture
def staff(db: None) -> Callable[..., Client]:
    """A logged-in staff user with exactly these permissions ("app.codename")."""
    def make(*permissions: str) -> Client:
        user = User.objects.create_user(f"staff{User.objects.count()}", password="x", is_staff=True)
        for name in permissions:
            app, codename = name.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
        browser = Client()
        browser.force_login(user)
        return browser
    return make


def sale(venue: Connection | None, at: dt.datetime, *lines: tuple[Product | None, str, str, str],
         status: str = Purchase.Status.PAID) -> Purchase:
    """A receipt of ``lines`` (product, name, quantity, price) made at ``venue``."""
    purchase = Purchase.objects.create(purchased_at=at, status=status,
                                       total=sum(Decimal(q) * Decimal(p) for _, _, q, p in lines))
    for product, name, quantity, price in lines:
        PurchaseLine.objects.create(purchase=purchase, product=product, product_name=name, quantity=Decimal(quantity),
                                    price=Decimal(price), amount=Decimal(quantity) * Decimal(price))
    if venue is not None:
        ExternalRef.objects.create(connection=venue, kind="purchase", local_id=purchase.pk,
                                   external_id=f"check-{purchase.pk}")
    return purchase


@pytest.fixture
def venues(db: None) -> dict[str, Connection]:
    return {"aqua": Connection.objects.create(system="lime", name="Аквапарк", time_zone="Europe/Moscow"),
            "rink": Connection.objects.create(system="lime", name="Каток", time_zone="Asia/Yekaterinburg"),
            "crm": Connection.objects.create(system="amocrm", name="CRM")}


@pytest.fixture
def catalog(db: None) -> dict[str, object]:
    tickets = ProductCategory.objects.create(name="Билеты")
    kids = ProductCategory.objects.create(name="Детские", parent=tickets)
    food = ProductCategory.objects.create(name="Еда")
    return {
        "tickets": tickets, "kids": kids, "food": food,
        "adult": Product.objects.create(name="Взрослый билет", category=tickets),
        "child": Product.objects.create(name="Детский билет", category=kids),
        "hotdog": Product.objects.create(name="Хот-дог", category=food, kind=Product.Kind.GOODS),
        "family": Product.objects.create(name="Семейный", category=None),
    }


@pytest.fixture
def sales(venues: dict[str, Connection], catalog: dict[str, object]) -> dict[str, object]:
    """A week of sales, 2 to 8 March 2026 (Monday to Sunday, Moscow), and some that must not count.

    Aquapark (Moscow): Mon 10:15 — 2 adult (2000) and a hot dog (300); Wed 23:30 — 1 adult (1000)
    and 3 child (1500); Thu 00:30 — 1 child (500), Wednesday evening in UTC; Thu 12:00 — a refund
    receipt of 5 adult; Mon 9 March 00:30 — 7 adult, still 8 March in UTC: out of the week.
    Rink (Yekaterinburg): Fri 6 March 01:00 local — 2 family (1500), Thursday 23:00 in Moscow.
    No venue: Sat 15:00 — a souvenir without a product (200)."""
    aqua, rink = venues["aqua"], venues["rink"]
    adult, child, hotdog, family = catalog["adult"], catalog["child"], catalog["hotdog"], catalog["family"]
    sale(aqua, msk(2, 10, 15), (adult, "Взрослый", "2", "1000"), (hotdog, "Хот-дог", "1", "300"))
    sale(aqua, msk(4, 23, 30), (adult, "Взрослый", "1", "1000"), (child, "Детский", "3", "500"))
    sale(aqua, msk(5, 0, 30), (child, "Детский", "1", "500"))
    sale(aqua, msk(5, 12), (adult, "Взрослый", "5", "1000"), status=Purchase.Status.REFUNDED)
    sale(aqua, msk(9, 0, 30), (adult, "Взрослый", "7", "1000"))
    sale(rink, dt.datetime(2026, 3, 6, 1, 0, tzinfo=YEKT), (family, "Семейный", "2", "750"))
    sale(None, msk(7, 15), (None, "Сувенир", "1", "200"))
    return {**venues, **catalog}
