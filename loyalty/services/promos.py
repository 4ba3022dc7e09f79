"""Promo codes and personal coupons: which typed codes a receipt may use (each refusal with a
reason a cashier can read out), what they give, recording their use and giving it back on a
refund, and issuing personal coupons to a segment with a control group held back."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import islice

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from hub.models import Contact
from hub.services.money import money
from loyalty.models import OfferExposure, PromoCode, PromoUse, Receipt
from loyalty.services.context import ZERO, AppliedPromo, Line, ReceiptContext
from loyalty.services.offers import offer_expose, offer_expose_many, offer_group
from loyalty.services.targeting import Target

COUPON_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read over the phone without mistakes
COUPON_LENGTH = 8
COUPON_PREFIX_RE = re.compile(r"^[A-Z0-9_-]*$")
CHUNK = 1000


# --- formatting for the texts a cashier reads -------------------------------------------------

def plural(n: int | Decimal, forms: tuple[str, str, str]) -> str:
    """Russian plural: (1 раз, 2 раза, 5 раз)."""
    if n != int(n):
        return forms[1]
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return forms[0]
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return forms[1]
    return forms[2]


def rub(amount: Decimal) -> str:
    """1500 → «1 500 ₽», 99.5 → «99,50 ₽»."""
    amount = money(amount)
    whole = f"{int(amount):,}".replace(",", "\u00a0")
    if amount == amount.to_integral_value():
        return f"{whole}\u00a0₽"
    return f"{whole},{abs(amount) % 1 * 100:02.0f}\u00a0₽"


def number(value: Decimal | int) -> str:
    """2.000 → «2», 1.50 → «1,5»."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f").replace(".", ",")


def _when(ctx: ReceiptContext, at: dt.datetime) -> str:
    return at.astimezone(ctx.local.tzinfo).strftime("%d.%m.%Y %H:%M")


# --- applying codes to a receipt --------------------------------------------------------------

def codes_normalize(codes: Iterable[str]) -> list[str]:
    """Stripped, upper case, no empties, no repeats, in the order typed."""
    seen: dict[str, None] = {}
    for code in codes:
        code = (code or "").strip().upper()
        if code:
            seen.setdefault(code, None)
    return list(seen)


def _target_names(promo: PromoCode, limit: int = 3) -> str:
    names = sorted(p.name for p in promo.products.all()) + sorted(c.name for c in promo.categories.all())
    shown = ", ".join(f"«{name}»" for name in names[:limit])
    if len(names) > limit:
        shown += f" и ещё {len(names) - limit}"
    return shown


def _use_counts(ctx: ReceiptContext, promos: list[PromoCode]) -> dict[int, tuple[int, int]]:
    """promo id → (uses in total, uses by this client), refunded uses and this order's own
    earlier uses (a repeated confirm) left out. One query for all codes."""
    if not promos:
        return {}
    rows = PromoUse.objects.filter(promo__in=promos, cancelled=False)
    if ctx.ref:
        rows = rows.exclude(receipt__program=ctx.program, receipt__ref=ctx.ref)
    counted = rows.values("promo").annotate(total=Count("pk"), mine=Count("pk", filter=Q(contact=ctx.contact)))
    return {row["promo"]: (row["total"], row["mine"]) for row in counted}


def _refusal(ctx: ReceiptContext, promo: PromoCode, code: str, counts: tuple[int, int], covered: list[Line],
             several: bool) -> str | None:
    """Why ``promo`` cannot be used on this receipt, or None."""
    if not promo.active:
        return f"Промокод «{code}» отключён."
    if promo.valid_from is not None and ctx.at < promo.valid_from:
        return f"Промокод «{code}» действует с {_when(ctx, promo.valid_from)}."
    if promo.valid_until is not None and ctx.at > promo.valid_until:
        return f"Срок действия промокода «{code}» закончился {_when(ctx, promo.valid_until)}."
    if promo.contact_id is not None and promo.contact_id != ctx.contact.pk:
        return f"Промокод «{code}» — персональный купон другого клиента."
    total, mine = counts
    if promo.max_uses is not None and total >= promo.max_uses:
        if promo.max_uses == 1:
            return f"Промокод «{code}» одноразовый и уже использован."
        return (f"Промокод «{code}» уже использован {total} {plural(total, ('раз', 'раза', 'раз'))} — "
                f"это предел.")
    if promo.max_uses_per_client is not None and mine >= promo.max_uses_per_client:
        if promo.max_uses_per_client == 1:
            return f"Клиент уже использовал промокод «{code}», а его можно применить только один раз."
        return (f"Клиент уже использовал промокод «{code}» {mine} {plural(mine, ('раз', 'раза', 'раз'))}, "
                f"можно не больше {promo.max_uses_per_client}.")
    if promo.min_total is not None and promo.min_total > ctx.total:
        return (f"Промокод «{code}» действует при сумме чека от {rub(promo.min_total)}, "
                f"в чеке {rub(ctx.total)}.")
    if not covered:
        return f"Промокод «{code}» действует только на {_target_names(promo)} — таких позиций в чеке нет."
    if several and not promo.combinable:
        return f"Промокод «{code}» не суммируется с другими промокодами."
    return None


def _split(amount: Decimal, lines: list[Line]) -> list[Decimal]:
    """``amount`` over ``lines`` in proportion to what is left of each, never more than that,
    to the exact cent (the leftover cents go to the largest remainders)."""
    nets = [max(int(line.net * 100), 0) for line in lines]
    base = sum(nets)
    total = min(int(money(amount) * 100), base)
    if base <= 0 or total <= 0:
        return [ZERO for _ in lines]
    shares = [total * net // base for net in nets]
    remainders = sorted(range(len(lines)), key=lambda i: (-(total * nets[i] % base), i))
    for i in remainders[:total - sum(shares)]:
        shares[i] += 1
    return [Decimal(share) / 100 for share in shares]


def _apply(ctx: ReceiptContext, promo: PromoCode, code: str, covered: list[Line]) -> None:
    parts: list[str] = []
    discount = ZERO
    if promo.discount_percent:
        given = ZERO
        for line in covered:
            cut = min(money(line.net * promo.discount_percent / 100), line.net)
            line.discount += cut
            given += cut
        discount += given
        parts.append(f"скидка {number(promo.discount_percent)}% — {rub(given)}")
    if promo.discount_amount:
        cuts = _split(promo.discount_amount, covered)
        for line, cut in zip(covered, cuts, strict=True):
            line.discount += cut
        given = money(sum(cuts, ZERO))
        discount += given
        parts.append(f"скидка {rub(given)}" if given == promo.discount_amount
                     else f"скидка {rub(given)} (из {rub(promo.discount_amount)}: больше не осталось к оплате)")
    points = money(promo.bonus_points or ZERO)
    if points:
        ctx.bonus_points += points
        parts.append(f"+{number(points)} {plural(points, ('балл', 'балла', 'баллов'))}")
    discount = money(discount)
    ctx.promos.append(AppliedPromo(promo=promo, discount=discount, points=points))
    ctx.exposures.append(("promo", promo.parent_id or promo.pk, OfferExposure.Group.OFFERED))
    if not promo.combinable:
        ctx.combinable = False
        parts.append("без других скидок и оплаты баллами")
    where = ""
    if not Target.of(promo).everything:
        where = f" на {len(covered)} {plural(len(covered), ('позицию', 'позиции', 'позиций'))}"
    ctx.explain("promo", code, f"Промокод «{code}» ({promo.name}){where}: {', '.join(parts)}.", applied=True,
                ref=promo.pk, points=points, money=discount)


def promos_apply(ctx: ReceiptContext, codes: list[str], *, lock: bool = False) -> None:
    """Checks each typed code and applies the accepted ones in the order typed, each on what
    is left of the lines after the ones before. ``lock``: the caller confirms inside a
    transaction, so the codes' rows are locked (in id order: no deadlocks) and two receipts
    cannot both take the last use of a code."""
    codes = codes_normalize(codes)
    if not codes:
        return
    rows = PromoCode.objects.filter(program=ctx.program, code__in=codes).prefetch_related("products", "categories")
    if lock:
        rows = rows.select_for_update().order_by("pk")
    found = {promo.code: promo for promo in rows}
    counts = _use_counts(ctx, list(found.values()))
    several = len(codes) > 1
    for code in codes:
        promo = found.get(code)
        if promo is None:
            ctx.refuse("promo", code, f"Промокод «{code}» не найден.")
            continue
        target = Target.of(promo)
        covered = [line for line in ctx.lines if target.covers(line.product)]
        reason = _refusal(ctx, promo, code, counts.get(promo.pk, (0, 0)), covered, several)
        if reason is not None:
            ctx.refuse("promo", code, reason)
            continue
        _apply(ctx, promo, code, covered)


# --- recording and giving back ------------------------------------------------------------------

def promos_record(ctx: ReceiptContext, receipt: Receipt) -> None:
    """One use per code and receipt (a repeated call adds nothing); the code's counter moves
    with it, and the offer is marked used."""
    if not ctx.promos:
        return
    done = set(PromoUse.objects.filter(receipt=receipt).values_list("promo_id", flat=True))
    for applied in ctx.promos:
        promo = applied.promo
        if promo.pk in done:
            continue
        try:
            with transaction.atomic():
                PromoUse.objects.create(promo=promo, receipt=receipt, contact_id=receipt.contact_id,
                                        discount=applied.discount, points=applied.points)
        except IntegrityError:  # recorded by a concurrent call
            continue
        done.add(promo.pk)
        PromoCode.objects.filter(pk=promo.pk).update(uses=F("uses") + 1)
        offer_expose("promo", promo.parent_id or promo.pk, receipt.contact_id, OfferExposure.Group.OFFERED,
                     receipt.at, used=True)


def promos_release(receipt: Receipt) -> None:
    """A refunded receipt gives its codes back (each use once, however often it is called)."""
    with transaction.atomic():
        uses = list(PromoUse.objects.filter(receipt=receipt, cancelled=False).only("pk", "promo_id"))
        # the codes locked in id order, as promos_apply locks them: a refund never deadlocks a confirm
        list(PromoCode.objects.select_for_update().filter(pk__in={u.promo_id for u in uses}).order_by("pk")
             .values_list("pk", flat=True))
        for use in uses:
            if PromoUse.objects.filter(pk=use.pk, cancelled=False).update(cancelled=True):
                PromoCode.objects.filter(pk=use.promo_id, uses__gt=0).update(uses=F("uses") - 1)


# --- personal coupons -------------------------------------------------------------------------

def _chunks(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    it = iter(ids)
    while chunk := list(islice(it, size)):
        yield chunk


def _contact_ids(contacts: Iterable[Contact] | QuerySet[Contact]) -> Iterator[int]:
    if isinstance(contacts, QuerySet):  # ids only: tens of thousands of ints are cheap
        yield from list(contacts.order_by("pk").values_list("pk", flat=True))
        return
    seen: set[int] = set()
    for contact in contacts:
        pk = contact if isinstance(contact, int) else contact.pk
        if pk not in seen:
            seen.add(pk)
            yield pk


def _new_codes(prefix: str, count: int) -> list[str]:
    """``count`` codes nobody has yet."""
    codes: set[str] = set()
    while len(codes) < count:
        batch = {prefix + "".join(secrets.choice(COUPON_ALPHABET) for _ in range(COUPON_LENGTH))
                 for _ in range(count - len(codes))}
        batch -= set(PromoCode.objects.filter(code__in=batch).values_list("code", flat=True))
        codes |= batch
    return list(codes)


def _coupon(template: PromoCode, contact_id: int, code: str) -> PromoCode:
    return PromoCode(
        program_id=template.program_id, code=code, name=template.name, active=True, parent=template,
        contact_id=contact_id, max_uses=template.max_uses,
        max_uses_per_client=template.max_uses_per_client if template.max_uses_per_client is not None else 1,
        valid_from=template.valid_from, valid_until=template.valid_until, min_total=template.min_total,
        discount_percent=template.discount_percent, discount_amount=template.discount_amount,
        bonus_points=template.bonus_points, combinable=template.combinable, holdout_percent=0)


def coupons_issue(promo: PromoCode, contacts: Iterable[Contact] | QuerySet[Contact], *,
                  prefix: str = "") -> tuple[int, int]:
    """Personal copies of ``promo`` (a template; it may be inactive so nobody types its code
    — the coupons are issued active) for each contact, except the control group, which is
    recorded and gets nothing: that is what the coupons' effect is measured against. A
    contact who already has a coupon from this template or was held back is skipped, so a
    repeated issue to a grown segment reaches only the newcomers. Returns (issued, held back)."""
    if promo.parent_id is not None or promo.contact_id is not None:
        raise ValidationError("Купоны выпускаются из общего промокода, а не из персонального купона.")
    prefix = (prefix or "").strip().upper()
    room = PromoCode._meta.get_field("code").max_length - COUPON_LENGTH
    if not COUPON_PREFIX_RE.match(prefix) or len(prefix) > room:
        raise ValidationError("Префикс: латинские буквы, цифры, «-» и «_», не длиннее 24 символов.")
    products = list(promo.products.values_list("pk", flat=True))
    categories = list(promo.categories.values_list("pk", flat=True))
    issued = held = 0
    now = timezone.now()
    for chunk in _chunks(_contact_ids(contacts), CHUNK):
        with transaction.atomic():
            PromoCode.objects.select_for_update().filter(pk=promo.pk).first()  # one issue of a template at a time
            has_coupon = set(PromoCode.objects.filter(parent=promo, contact_id__in=chunk)
                             .values_list("contact_id", flat=True))
            known = dict(OfferExposure.objects.filter(offer=OfferExposure.Offer.PROMO, offer_id=promo.pk,
                                                      contact_id__in=chunk).values_list("contact_id", "group"))
            to_issue: list[int] = []
            control: list[int] = []
            for contact_id in chunk:
                if contact_id in has_coupon:
                    continue
                group = known.get(contact_id) or offer_group("promo", promo.pk, contact_id, promo.holdout_percent)
                if group == OfferExposure.Group.CONTROL:
                    if contact_id not in known:  # held back earlier: already counted then
                        control.append(contact_id)
                else:
                    to_issue.append(contact_id)
            offer_expose_many(OfferExposure.Offer.PROMO, promo.pk, control, OfferExposure.Group.CONTROL, now)
            if to_issue:
                codes = _new_codes(prefix, len(to_issue))
                created = PromoCode.objects.bulk_create([_coupon(promo, contact_id, code)
                                                         for contact_id, code in zip(to_issue, codes, strict=True)])
                new = [coupon.pk for coupon in created]
                if None in new:  # a database that does not return ids from a bulk insert
                    new = list(PromoCode.objects.filter(code__in=codes).values_list("pk", flat=True))
                if products:
                    PromoCode.products.through.objects.bulk_create(
                        [PromoCode.products.through(promocode_id=pk, product_id=product)
                         for pk in new for product in products])
                if categories:
                    PromoCode.categories.through.objects.bulk_create(
                        [PromoCode.categories.through(promocode_id=pk, productcategory_id=category)
                         for pk in new for category in categories])
                offer_expose_many(OfferExposure.Offer.PROMO, promo.pk, to_issue, OfferExposure.Group.OFFERED, now)
            issued += len(to_issue)
            held += len(control)
    return issued, held

