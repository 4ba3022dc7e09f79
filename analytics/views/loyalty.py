"""Bonus liability (points on accounts and what will burn, per week) and campaign results
(what became of the messages, and what the clients bought after them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from analytics.charts import chart_or_none, series
from analytics.forms import ALL, CampaignsForm, LiabilityForm
from analytics.selectors.campaigns import CampaignResult, Delivery, campaign_results
from analytics.selectors.common import day_bounds, zone_of
from analytics.selectors.liability import OVERDUE, ZERO, Liability, Week, bonus_liability
from analytics.tables import INT, MONEY, PERCENT, POINTS, TEXT, Column, Row, Table, display
from analytics.views.base import Report, render_report
from hub.reports import BarSpec, GroupSpec
from mailings.models import Channel

if TYPE_CHECKING:
    from analytics.pages import Page

CHANNELS = dict(Channel.choices)
ALL_CHANNELS = "Все каналы"
DELIVERY_COLUMNS = (Column("Сообщений", INT), Column("Отправлено", INT), Column("Доставлено", INT),
                    Column("Прочитано", INT), Column("Ошибка", INT), Column("Не отправлено", INT),
                    Column("В очереди", INT), Column("Отписались", INT))
OFFER_COLUMNS = (Column("Получили (без контрольной)", INT), Column("Купили", INT), Column("Конверсия, %", PERCENT),
                 Column("Контрольная группа", INT), Column("Купили в контрольной", INT),
                 Column("Выручка на клиента, ₽", MONEY), Column("В контрольной, ₽", MONEY),
                 Column("Прирост на клиента, ₽", MONEY), Column("Прирост, %", PERCENT))
DELIVERY_SERIES = series(("sent", "Отправлено"), ("delivered", "Доставлено"), ("failed", "Ошибка"),
                         ("opted_out", "Отписались"))


# --- liability -------------------------------------------------------------------------------


def _week_label(week: Week) -> str:
    """Each span ends at the same time of day as now: "до 01.12" is up to this hour that day."""
    if week.index == OVERDUE:
        return "Просрочено"
    return f"до {timezone.localtime(week.end):%d.%m}"


def _week_title(week: Week) -> str:
    return "просрочено, ждёт списания" if week.index == OVERDUE else _week_label(week)


def liability_table(data: Liability) -> Table:
    weeks = [w for w in data.weeks if w.index != OVERDUE]
    columns = (Column("Программа", TEXT), Column("Клиентов с баллами", INT), Column("Баллов на счетах", POINTS),
               Column(f"Сгорит за {data.days} дн.", POINTS), Column("В т. ч. просрочено", POINTS),
               Column("Останется", POINTS), *(Column(f"Сгорит {_week_label(w)}", POINTS) for w in weeks))
    table = Table(columns=columns, note=f"На {timezone.localtime(data.now):%d.%m.%Y %H:%M} "
                                        f"({timezone.get_current_timezone_name()}), если баллы не потратят")
    for p in data.programs:
        table.rows.append(Row((p.name, p.clients, p.balance, p.expiring_total, p.overdue, p.staying,
                               *(p.expiring.get(w.index, ZERO) for w in weeks)),
                              link=reverse("admin:loyalty_program_change", args=[p.program_id])))
    if len(data.programs) > 1:
        sums = [sum((row.cells[i] for row in table.rows), 0) for i in range(1, len(columns))]
        table.rows.append(Row(("Итого", *sums), kind="total"))
    return table


def liability_chart(data: Liability):  # type: ignore[no-untyped-def]
    weeks = [w for w in data.weeks if w.index != OVERDUE or any(p.overdue for p in data.programs)]
    groups = []
    for week in weeks:
        bars = []
        for i, p in enumerate(data.programs):
            points = p.expiring.get(week.index, ZERO)
            bars.append(BarSpec(f"p{i}", points, f"{p.name}, {_week_title(week)}: {display(points, POINTS)} баллов"))
        groups.append(GroupSpec(label=_week_label(week), sublabel="", bars=tuple(bars)))
    return chart_or_none(groups)


def liability_view(request: HttpRequest, page: Page) -> HttpResponse:
    """Points per hub-kept program, and what burns in the next N days, week by week."""
    form = LiabilityForm(request.GET)
    v = form.values
    data = bonus_liability(days=v["days"], program=v["program"])
    report = Report(
        chart_title=f"Сколько баллов сгорит за {v['days']} дн., по неделям", chart=liability_chart(data),
        series=series(*((f"p{i}", p.name) for i, p in enumerate(data.programs))), table=liability_table(data),
        sheet="Баллы",
        help=("Баллы на счетах программ, которые ведёт хаб (внешние программы считают свои баллы сами). "
              "«Сгорит» — непотраченный остаток начислений, срок которых истекает в эти дни: столько спишет "
              "ежедневное сгорание, если клиенты не потратят баллы раньше. «Просрочено» — срок уже прошёл, "
              "списание будет при ближайшем запуске."),
        empty="Баллов на счетах нет.")
    if data.is_empty:
        report.table.rows = []
    return render_report(request, page, form, report)


# --- campaigns -------------------------------------------------------------------------------


def _delivery(d: Delivery) -> tuple[int, ...]:
    return (d.messages, d.sent, d.delivered, d.read, d.failed, d.skipped, d.queued, d.opted_out)


def _offer(result: CampaignResult) -> tuple[object, ...]:
    o = result.offer
    if o is None:
        return (None,) * len(OFFER_COLUMNS)
    return (o.offered.clients, o.offered.used, o.offered.conversion, o.control.clients,
            o.control.used if o.control.clients else None, o.offered.revenue_per_client,
            o.control.revenue_per_client, o.uplift, o.uplift_percent)


def campaigns_table(results: list[CampaignResult], with_offers: bool, note: str) -> Table:
    columns = (Column("Рассылка"), Column("Канал"), *DELIVERY_COLUMNS, *(OFFER_COLUMNS if with_offers else ()))
    table = Table(columns=columns, note=note)
    blank = (None,) * len(OFFER_COLUMNS) if with_offers else ()
    for r in results:
        table.rows.append(Row((r.name, ALL_CHANNELS, *_delivery(r.total), *(_offer(r) if with_offers else ())),
                              kind="group", link=reverse("admin:mailings_campaign_change", args=[r.campaign_id])))
        for channel, delivery in r.channels.items():
            table.rows.append(Row((r.name, str(CHANNELS.get(channel, channel)), *_delivery(delivery), *blank)))
    return table


def campaigns_chart(results: list[CampaignResult]):  # type: ignore[no-untyped-def]
    groups = []
    for r in results:
        d = r.total
        groups.append(GroupSpec(label=r.name, sublabel=f"{d.messages} сообщ.", bars=tuple(
            BarSpec(s.kind, getattr(d, s.kind), f"{r.name}: {s.label.lower()} — {getattr(d, s.kind)}")
            for s in DELIVERY_SERIES)))
    return chart_or_none(groups, whole=True)


def campaigns_view(request: HttpRequest, page: Page) -> HttpResponse:
    """Per campaign and channel: sent, delivered, failed, opted out; with the loyalty permission
    also the offer results (revenue after the message against the control group)."""
    form = CampaignsForm(request.GET)
    v = form.values
    zone = zone_of(None)
    start, end = day_bounds(v["date_from"], v["date_to"], zone)
    with_offers = request.user.has_perm("loyalty.view_offerexposure")
    channel = None if v["channel"] == ALL else v["channel"]
    results = campaign_results(start, end, campaign=v["campaign"], channel=channel,
                               offer_days=v["days"] if with_offers else None)
    period = f"{v['date_from']:%d.%m.%Y}–{v['date_to']:%d.%m.%Y}"
    note = f"Сообщения, созданные {period} ({zone})"
    if with_offers:
        note += f"; выручка — за {v['days']} дней после сообщения, по всем сообщениям рассылки"
    links = []
    if with_offers:
        links.append((reverse("admin:loyalty_offer_results") + f"?kind=campaign&days={v['days']}",
                      "Результаты предложений: выручка после рассылок подробно"))
    report = Report(
        chart_title="Что стало с сообщениями", chart=campaigns_chart(results), series=DELIVERY_SERIES,
        table=campaigns_table(results, with_offers, note), sheet="Рассылки", links=links,
        help=("Сообщения рассылок, созданные в этот период, по каналам. «Отправлено» — переданы провайдеру "
              "(в т. ч. доставленные и прочитанные), «Отписались» — получатели, отозвавшие согласие на рассылки "
              "после сообщения. "
              + (f"Выручка — покупки получивших за {v['days']} дней после первого сообщения рассылки против "
                 "контрольной группы (за всё время рассылки, не только за период), как в «Результатах предложений»."
                 if with_offers else "Выручку после рассылок видят пользователи с правом на результаты предложений.")),
        empty="За этот период сообщений рассылок нет.")
    return render_report(request, page, form, report)
