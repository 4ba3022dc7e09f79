"""A manager's day in a real browser (chromium via Playwright, live server): a hall booked
over another booking is refused with the clash and a free time; bonuses above the role's limit
are refused, within it granted. Screenshots in var/screenshots/staff-*.png."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import Page, expect

from bookings.models import Booking, Resource
from bookings.services import BookingData, booking_save
from hub.models import Contact
from hub.services.roles import MANAGER, roles_sync
from loyalty.models import Entry
from tests.browser import DESKTOP, admin_login, browser_page, shot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(live_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    with browser_page(tmp_path / "profile", monkeypatch, **DESKTOP) as page:
        yield page


@pytest.fixture
def manager() -> object:
    roles_sync()
    user = get_user_model().objects.create_user("olga", password="olga-pass", is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER.name))
    return user


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _fill_time(page: Page, field: str, day: dt.date, time: str) -> None:
    page.locator(f"#id_{field}_0").fill(day.strftime("%d.%m.%Y"))
    page.locator(f"#id_{field}_1").fill(time)


def test_a_manager_books_a_hall_hits_a_clash_and_books_the_free_time(page: Page, live_server, manager) -> None:
    day = timezone.localdate() + dt.timedelta(days=10)
    hall = Resource.objects.create(kind=Resource.Kind.HALL, name="Пиратский зал", capacity=20,
                                   opens_at=dt.time(10), closes_at=dt.time(21))
    other = Contact.objects.create(first_name="Ирина", phone="+79990000002")
    first = booking_save(BookingData(contact=other, starts_at=_at(day, 14), ends_at=_at(day, 16), resources=[hall]))
    admin_login(page, live_server.url, "olga", "olga-pass", "/admin/bookings/booking/add/")

    page.locator("#id_new_client_name").fill("Мария")
    page.locator("#id_new_client_phone").fill("8 999 000-00-03")
    _fill_time(page, "starts_at", day, "15:00")
    _fill_time(page, "ends_at", day, "17:00")
    page.locator("#id_halls_and_staff_from").select_option(label="Пиратский зал")
    page.locator("#id_halls_and_staff_add").click()
    page.locator("input[name=_save]").click()

    clash = page.locator(".errorlist").first
    expect(clash).to_contain_text(f"«Пиратский зал» занят: бронь №{first.pk}")
    shot(page, "staff-booking-clash")
    assert Booking.objects.count() == 1

    _fill_time(page, "starts_at", day, "16:00")
    _fill_time(page, "ends_at", day, "18:00")
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    booked = Booking.objects.exclude(pk=first.pk).get()
    assert (booked.contact.phone, booked.starts_at, list(booked.resources.all())) == (
        "+79990000003", _at(day, 16), [hall])
    page.goto(f"{live_server.url}/admin/bookings/booking/calendar/?date={day.isoformat()}")
    expect(page.locator("body")).to_contain_text("Пиратский зал")
    shot(page, "staff-booking-calendar")


def test_a_manager_is_refused_a_grant_above_the_limit_and_makes_one_within_it(page: Page, live_server,
                                                                           manager) -> None:
    anna = Contact.objects.create(first_name="Анна", phone="+79990000001")
    admin_login(page, live_server.url, "olga", "olga-pass", f"/admin/loyalty/account/grant/?contact={anna.pk}")

    page.locator("#id_points").fill("1500")
    page.locator("#id_reason").fill("Компенсация за закрытую горку")
    page.locator("input[type=submit]").last.click()
    expect(page.locator(".errorlist")).to_contain_text("Ваш лимит — 1000.00 баллов за одну операцию")
    shot(page, "staff-grant-refused")
    assert not Entry.objects.exists()

    page.locator("#id_points").fill("300")
    page.locator("input[type=submit]").last.click()
    expect(page.locator(".messagelist .success")).to_contain_text("+300")
    entry = Entry.objects.get()
    assert (entry.points, entry.actor, entry.account.contact) == (300, manager, anna)
    shot(page, "staff-grant-done")
