"""The analytics pages in one place: address, title, one-line description, the permission that
opens it (an existing "view" permission of the data it shows — the app has no models of its
own), and the view. The index lists only the pages the user may open; role tests iterate over
PAGES."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from analytics.views.clients import birthdays_view, lapsed_view
from analytics.views.loyalty import campaigns_view, liability_view
from analytics.views.sales import passes_view, tickets_view


@dataclass(frozen=True)
class Page:
    name: str  # URL path and URL name ``analytics_<name>``, file names of downloads
    title: str
    description: str
    permission: str
    view: Callable[[HttpRequest, Page], HttpResponse]

    @property
    def url_name(self) -> str:
        return f"analytics_{self.name}"

    def allows(self, user: Any) -> bool:
        return bool(user.has_perm(self.permission))

    def as_view(self) -> Callable[[HttpRequest], HttpResponse]:
        """Staff only (the admin's login otherwise), and 403 without the permission."""
        def view(request: HttpRequest) -> HttpResponse:
            if not self.allows(request.user):
                raise PermissionDenied
            return self.view(request, self)
        view.__name__ = f"{self.name}_page"
        return admin.site.admin_view(view)


PAGES: tuple[Page, ...] = (
    Page("tickets", "Билеты: что и когда продаётся",
         "Самые продаваемые товары (штуки и выручка), продажи по дням недели и часам по времени площадки.",
         "hub.view_purchase", tickets_view),
    Page("passes", "Проходы: аттракционы и зоны",
         "Проходы по аттракционам, платным зонам и товарам, по дням недели и часам.",
         "hub.view_pass", passes_view),
    Page("lapsed", "Давно не были",
         "Клиенты, которые не приходили N дней: сколько и кто, со списком для выгрузки.",
         "hub.view_contact", lapsed_view),
    Page("birthdays", "Дни рождения",
         "Клиенты и дети с днём рождения в выбранном месяце, по дням, с родителями детей.",
         "hub.view_contact", birthdays_view),
    Page("liability", "Бонусные обязательства",
         "Баллы на счетах программ хаба и сколько их сгорит в ближайшие недели.",
         "loyalty.view_account", liability_view),
    Page("campaigns", "Результаты рассылок",
         "Отправлено, доставлено, ошибки и отписки по рассылкам и каналам, выручка после рассылки.",
         "mailings.view_campaign", campaigns_view),
)


def pages_for(user: Any) -> list[Page]:
    """The pages ``user`` may open, in the index's order."""
    return [page for page in PAGES if page.allows(user)]
