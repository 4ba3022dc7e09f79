"""Tilda's form webhook in one place: how a submission arrives, which fields mean what, and
how a cart's ``payment`` reads as order lines. When Tilda behaves differently from what is
written here, this file (and the emulator) is what changes.

Confirmed (help-ru.tilda.cc/formsscript, as quoted in /work/shared/contracts/channels.md):

- a POST, form-urlencoded by default, fields named as in the form (``Name``, ``Email``,
  ``Phone``…) plus ``tranid`` and ``formid``;
- on connecting a webhook Tilda posts ``test=test`` and expects a 200;
- the answer must come within 5 s, else two retries a minute apart; answer 200 ``ok``;
- the API key is a configurable header or body field; a repeated delivery has the same ``tranid``.

Seen in public integrations, not in Tilda's docs (the contract's "payments" note):

- a cart sends ``payment`` = ``{orderid, amount, subtotal, promocode, discount, products[]}``
  with products ``{name, quantity, amount, price, sku, externalid, options}``; it arrives as
  nested JSON, as flattened keys ``payment[products][0][name]`` or as a JSON string, and
  products may be plain strings ``"Name=490"``. A captured real body with flattened keys
  (``Form=Cart&Name=…&Phone=…&payment[sys]=none&payment[systranid]=0&payment[orderid]=…
  &payment[products][0][name]=…&payment[products][0][sku]=…&payment[products][0][quantity]=1
  &payment[products][0][amount]=4500&payment[products][0][price]=4500&payment[amount]=…
  &formid=form42581206&formname=Cart``) is in github.com/marchshares/azure,
  src/test/java/com/bars/orders/order/OrderProcessorTest.java; a handover note listing the
  variants ``products`` as a JSON string, ``products[0][externalid]``,
  ``payment[products][0][externalid]``, ``payment.products[].sku`` and ``payment`` as a JSON
  string was found in the code corpus (a Tilda → order-desk adapter's handover document).

Assumed (our design, one place to change):

- a product string may also carry quantity and unit price: ``"Name - 2x245 = 490"``,
  ``"Name: 2 x 245 = 490"`` (no public sample found; the plain ``"Name=490"`` is the contract's);
- Tilda's "Checkbox" field is sent as ``Checkbox=yes`` when ticked; which field is the
  personal-data consent and which the marketing one is set per connection
  (``settings["consent_fields"]``), with the defaults below;
- the ``test=test`` handshake may come without the API key: it is answered ``ok`` and
  nothing is stored; one that carries a wrong key is refused like any other request;
- the key is looked for in a header and in a body field of the same configured name.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from hub.services.normalize import email_normalize, phone_normalize

API_KEY_FIELD = "api_key"  # the default name of the header / body field carrying the key
OK = "ok"  # what Tilda expects back

#: Inbox kinds (what a submission was taken for when it arrived).
LEAD, CALLBACK, ORDER = "tilda.lead", "tilda.callback", "tilda.order"
FORM_KINDS = {"lead": LEAD, "callback": CALLBACK, "order": ORDER}

#: Fields Tilda adds itself: never shown to a manager as the client's answers.
SYSTEM_FIELDS = frozenset({"tranid", "formid", "formname", "test", "payment", "cookies"})

#: Field names (lower-case) per role; ``settings["fields"][role]`` adds the site's own names.
ROLE_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name", "fio", "fullname", "full_name", "фио", "имя"),
    "first_name": ("firstname", "first_name"),
    "last_name": ("lastname", "last_name", "surname", "фамилия"),
    "phone": ("phone", "tel", "telephone", "phone_number", "телефон"),
    "email": ("email", "e-mail", "mail", "почта"),
    "points": ("bonuses", "points"),  # points the client paid part of the order with
    "ip": ("ip", "client_ip"),
    "user_agent": ("user_agent", "useragent"),
    "page": ("page", "referer", "referrer", "page_url"),
}
CONSENT_FIELDS: dict[str, tuple[str, ...]] = {
    "personal_data": ("checkbox", "consent", "agreement", "pd_consent"),
    "marketing": ("marketing", "subscribe", "newsletter", "marketing_consent"),
}
TICKED = frozenset({"yes", "y", "on", "1", "true", "checked", "да", "+", "agree", "согласен", "согласна"})

MAX_DEPTH = 8  # brackets in one form key, nesting in JSON
MAX_PRODUCTS = 500
MAX_PRICE = Decimal("9999999999.99")  # what a 12-digit, 2-place column holds
MAX_QUANTITY = Decimal("9999999.999")
ORDERID_MAX = 64
SKU_MAX = 64


def _reject(message: str) -> ValidationError:
    return ValidationError(message, code="tilda_invalid")


# the body --------------------------------------------------------------------------------------
@dataclass
class Body:
    """A request body read either way: ``flat`` as the fields were named (values as text),
    ``data`` with bracketed keys unfolded (``payment[products][0][name]`` → nested)."""

    flat: dict[str, str]
    data: dict[str, Any]


def read_body(raw: bytes, content_type: str) -> Body:
    """Form-urlencoded (Tilda's default) or JSON, told apart by the content type and, when it
    says neither, by the first character. Refuses what cannot be stored faithfully."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _reject("Тело запроса не в UTF-8.") from exc
    kind = (content_type or "").split(";")[0].strip().lower()
    if "json" in kind or (kind != "application/x-www-form-urlencoded" and text.lstrip()[:1] in ("{", "[")):
        return _read_json(text)
    if kind.startswith("multipart/"):
        raise _reject("multipart/form-data не поддерживается: Tilda шлёт form-urlencoded или JSON.")
    return _read_form(text)


def _read_json(text: str) -> Body:
    def no_constants(name: str) -> None:
        raise ValueError(f"{name} is not allowed")

    try:
        data = json.loads(text, parse_constant=no_constants)
    except RecursionError as exc:
        raise _reject("JSON слишком глубоко вложен.") from exc
    except ValueError as exc:
        raise _reject(f"Тело не является корректным JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _reject("JSON должен быть объектом с полями формы.")
    _check_text(data)
    flat = {str(k): _as_text(v) for k, v in data.items()}
    return Body(flat=flat, data=data)


def _read_form(text: str) -> Body:
    try:
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                                       max_num_fields=10_000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _reject(f"Тело не читается как форма (application/x-www-form-urlencoded): {exc}") from exc
    if not pairs:
        raise _reject("Пустое тело: нет полей формы.")
    flat: dict[str, str] = {}
    for key, value in pairs:
        flat[key] = f"{flat[key]}; {value}" if key in flat else value  # a field sent twice: both values
    _check_text(flat)
    return Body(flat=flat, data=unflatten(flat))


def _check_text(value: Any, depth: int = 0) -> None:
    """NUL characters and lone surrogates cannot be stored (PostgreSQL, UTF-8); absurd nesting
    is refused before anything walks it."""
    if depth > MAX_DEPTH * 4:
        raise _reject("Данные слишком глубоко вложены.")
    if isinstance(value, str):
        if "\x00" in value:
            raise _reject("В данных есть символы NUL.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _reject("В данных есть некорректные символы Unicode.") from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, depth + 1)
            _check_text(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, depth + 1)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, (str, int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


_BRACKETED = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")


def unflatten(flat: dict[str, str]) -> dict[str, Any]:
    """``a[b][0][c]=x`` → ``{"a": {"b": [{"c": "x"}]}}`` (PHP-style keys, as Tilda flattens a
    cart). A key that clashes with another (``payment=x`` and ``payment[amount]=1``) stays as
    it came, under its own flat name: nothing is dropped."""
    result: dict[str, Any] = {}
    for key, value in flat.items():
        match = _BRACKETED.match(key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))] if match else [key]
        if len(parts) > MAX_DEPTH or not _put(result, parts, value):
            result.setdefault(key, value)
    return _lists(result)


def _put(node: dict[str, Any], parts: list[str], value: str) -> bool:
    for part in parts[:-1]:
        nxt = node.setdefault(part or str(len(node)), {})
        if not isinstance(nxt, dict):
            return False
        node = nxt
    last = parts[-1] if parts[-1] != "" else str(len(node))
    if last in node:
        return False
    node[last] = value
    return True


def _lists(node: Any) -> Any:
    """Objects keyed 0, 1, 2… become lists (in index order)."""
    if not isinstance(node, dict):
        return node
    node = {k: _lists(v) for k, v in node.items()}
    if node and all(k.isdigit() and len(k) < 7 for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


# the submission --------------------------------------------------------------------------------
def is_handshake(body: Body) -> bool:
    """Tilda's ``test=test`` on connecting the webhook (no form behind it)."""
    lowered = {k.lower(): v for k, v in body.flat.items()}
    return lowered.get("test") == "test" and not lowered.get("tranid") and not lowered.get("formid")


def key_sent(body: Body, key_field: str) -> str:
    return next((v for k, v in body.flat.items() if k.lower() == key_field.lower()), "")


@dataclass
class Submission:
    tranid: str
    formid: str
    formname: str
    fields: dict[str, str]  # what the client filled in, as named in the form (no system fields)
    payment: Any = None  # as it came: an object, a JSON string, or None

    def get(self, names: tuple[str, ...] | list[str]) -> str:
        """The first non-empty field among ``names`` (case-insensitive)."""
        wanted = [n.lower() for n in names]
        lowered = {k.lower(): v for k, v in self.fields.items()}
        return next((lowered[n].strip() for n in wanted if lowered.get(n, "").strip()), "")


def _scalar(value: Any, what: str, limit: int = 200) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _reject(f"Поле {what} должно быть строкой.")
    text = str(value).strip()
    if len(text) > limit:
        raise _reject(f"Поле {what} длиннее {limit} символов.")
    return text


def submission(body: Body, key_field: str = API_KEY_FIELD) -> Submission:
    """The form as the hub keeps it; a body without ``tranid`` is not a Tilda submission."""
    lowered = {k.lower(): k for k in body.data}
    tranid = _scalar(body.data.get(lowered.get("tranid", "tranid"), ""), "tranid")
    if not tranid:
        raise _reject("Нет поля tranid: это не отправка формы Tilda.")
    formid = _scalar(body.data.get(lowered.get("formid", "formid"), ""), "formid")
    formname = _as_text(body.data.get(lowered.get("formname", "formname"), ""))[:200]
    fields = {k: v for k, v in body.flat.items()
              if k.lower() not in SYSTEM_FIELDS and k.lower() != key_field.lower()
              and not k.lower().startswith("payment[")}
    payment = body.data.get(lowered["payment"]) if "payment" in lowered else None
    result = Submission(tranid=tranid, formid=formid, formname=formname, fields=fields, payment=payment)
    order(result.payment)  # a cart that cannot be read is refused now, while the sender is listening
    return result


def to_payload(sub: Submission) -> dict[str, Any]:
    return {"tranid": sub.tranid, "formid": sub.formid, "formname": sub.formname, "fields": sub.fields,
            "payment": sub.payment}


def from_payload(payload: dict[str, Any]) -> Submission:
    return Submission(tranid=str(payload.get("tranid") or ""), formid=str(payload.get("formid") or ""),
                      formname=str(payload.get("formname") or ""),
                      fields={str(k): str(v) for k, v in (payload.get("fields") or {}).items()},
                      payment=payload.get("payment"))


def kind_of(sub: Submission, settings: dict[str, Any]) -> str:
    """A form with a cart is an order; otherwise what the operator set for this form
    (``settings["forms"][formid]`` = "lead" | "callback"), a lead by default."""
    if order(sub.payment) is not None:
        return ORDER
    configured = str(((settings or {}).get("forms") or {}).get(sub.formid) or "lead").lower()
    return CALLBACK if FORM_KINDS.get(configured) == CALLBACK else LEAD


def role_names(role: str, settings: dict[str, Any]) -> tuple[str, ...]:
    """Default names for a role plus the connection's own (``settings["fields"][role]``)."""
    own = ((settings or {}).get("fields") or {}).get(role) or ()
    own = (own,) if isinstance(own, str) else tuple(str(n) for n in own)
    return (*own, *ROLE_FIELDS.get(role, ()))


def form_text(sub: Submission) -> str:
    """The client's answers as a manager reads them: one "Field: value" line each."""
    return "\n".join(f"{name}: {value}" for name, value in sub.fields.items() if str(value).strip())


# the person ------------------------------------------------------------------------------------
@dataclass
class Person:
    first_name: str = ""
    last_name: str = ""
    phone: str = ""  # E.164, or empty when none or not a valid number
    email: str = ""
    dropped: list[str] = field(default_factory=list)  # roles whose value was not usable


def person(sub: Submission, settings: dict[str, Any]) -> Person:
    """Name, phone and e-mail from the form; an invalid phone or e-mail is left out (and
    said so), not allowed to lose the submission."""
    found = Person(first_name=(sub.get(role_names("first_name", settings))
                               or sub.get(role_names("name", settings)))[:150],
                   last_name=sub.get(role_names("last_name", settings))[:150])
    raw_phone = sub.get(role_names("phone", settings))
    if raw_phone:
        try:
            found.phone = phone_normalize(raw_phone)
        except ValidationError:
            found.dropped.append("phone")
    raw_email = sub.get(role_names("email", settings))
    if raw_email:
        try:
            found.email = email_normalize(raw_email) if len(raw_email) <= 254 else ""
        except ValidationError:
            pass
        if not found.email:
            found.dropped.append("email")
    return found


def consent_field(sub: Submission, purpose: str, settings: dict[str, Any]) -> str | None:
    """The name of the ticked checkbox that grants ``purpose``, or None (not ticked, not there).
    ``settings["consent_fields"][purpose]`` names the site's own field(s)."""
    own = ((settings or {}).get("consent_fields") or {}).get(purpose)
    names = ((own,) if isinstance(own, str) else tuple(own)) if own else CONSENT_FIELDS.get(purpose, ())
    wanted = {str(n).lower() for n in names}
    for name, value in sub.fields.items():
        if name.lower() in wanted and str(value).strip().lower() in TICKED:
            return name
    return None


# the order -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    name: str
    quantity: Decimal
    price: Decimal  # per unit
    amount: Decimal  # the line's total
    sku: str = ""
    externalid: str = ""
    options: str = ""  # "Размер: M; Цвет: красный"

    @property
    def title(self) -> str:
        return (f"{self.name} ({self.options})" if self.options else self.name)[:255]


@dataclass(frozen=True)
class Order:
    orderid: str
    lines: list[Line]
    amount: Decimal | None  # what the client paid, as Tilda says (after discount, with delivery)
    subtotal: Decimal | None
    discount: Decimal | None
    promocode: str
    points: Decimal | None = None  # points paid with, when the cart carries them


def money_value(value: Any, what: str) -> Decimal:
    """'490', 490, '1 490,50', '490.00 руб.' → Decimal with 2 places; refuses what is no amount.
    Reasons name the field, never echo the value (the webhook view logs them; the raw body is
    kept in the Inbox for whoever needs to look)."""
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise _reject(f"{what}: не сумма.")
    text = re.sub(r"[\s\u00a0\u202f]", "", str(value)).replace(",", ".")
    text = re.sub(r"(?i)(руб\.?|р\.?|₽|rub)$", "", text)
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise _reject(f"{what}: не сумма.") from exc
    if not amount.is_finite() or amount < 0 or amount > MAX_PRICE:
        raise _reject(f"{what}: сумма вне допустимых пределов.")
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def quantity_value(value: Any, what: str) -> Decimal:
    if value in (None, ""):
        return Decimal(1)
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise _reject(f"{what}: не количество.")
    try:
        qty = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise _reject(f"{what}: не количество.") from exc
    if not qty.is_finite() or qty <= 0 or qty > MAX_QUANTITY:
        raise _reject(f"{what}: количество вне допустимых пределов.")
    qty = qty.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    if qty <= 0:
        raise _reject(f"{what}: количество вне допустимых пределов.")
    return qty


def _optional_money(raw: dict[str, Any], key: str) -> Decimal | None:
    value = raw.get(key)
    return None if value in (None, "") else money_value(value, f"payment.{key}")


def _decoded(value: Any, what: str) -> Any:
    """A JSON string where an object or a list was expected (the "payment as a JSON string"
    encoding) is read; any other string is left as it is."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise _reject(f"{what}: строка похожа на JSON, но не читается: {str(exc)[:80]}") from exc
        _check_text(decoded)
        return decoded
    return value


def order(raw: Any) -> Order | None:
    """The cart of a submission, or None when the form has none. Raises ValidationError with
    the reason when the cart is there but cannot be read."""
    raw = _decoded(raw, "payment")
    if raw in (None, "", {}, []):
        return None
    if not isinstance(raw, dict):
        raise _reject("payment должен быть объектом (или JSON-строкой с объектом).")
    raw = {str(k).lower(): v for k, v in raw.items()}
    products = _decoded(raw.get("products"), "payment.products")
    if isinstance(products, dict):
        products = [products[k] for k in sorted(products, key=lambda k: (len(str(k)), str(k)))]
    elif isinstance(products, str):
        products = [line for line in products.splitlines() if line.strip()]
    elif products is None:
        products = []
    if not isinstance(products, list):
        raise _reject("payment.products должен быть списком товаров.")
    if len(products) > MAX_PRODUCTS:
        raise _reject(f"В заказе больше {MAX_PRODUCTS} товаров.")
    orderid = _scalar(raw.get("orderid") or "", "payment.orderid", ORDERID_MAX)
    lines = [product(item, n) for n, item in enumerate(products)]
    amount = _optional_money(raw, "amount")
    if not lines:
        if not amount:
            raise _reject("В заказе (payment) нет ни товаров, ни суммы.")
        lines = [Line(name=f"Заказ Tilda {orderid}".strip(), quantity=Decimal(1), price=amount, amount=amount)]
    if sum((line.price * line.quantity for line in lines), Decimal(0)) > MAX_PRICE:
        raise _reject("Сумма заказа вне допустимых пределов.")
    points = raw.get("bonuses", raw.get("points"))
    return Order(orderid=orderid, lines=lines, amount=amount, subtotal=_optional_money(raw, "subtotal"),
                 discount=_optional_money(raw, "discount"), promocode=_as_text(raw.get("promocode"))[:100],
                 points=None if points in (None, "") else money_value(points, "payment.bonuses"))


# "Name=490", "Name - 2x245 = 490", "Name: 2 x 245 = 490" (quantity and unit price optional)
_PRODUCT_TEXT = re.compile(
    r"^\s*(?P<name>.+?)\s*(?:[-–—:]\s*(?P<qty>\d+(?:[.,]\d+)?)\s*[xх×*]\s*(?P<price>[\d\s.,]+?)\s*)?"
    r"=\s*(?P<amount>[\d\s\u00a0.,]+?)\s*(?:руб\.?|р\.?|₽|rub)?\s*$", re.IGNORECASE)


def product(item: Any, n: int = 0) -> Line:
    """One cart line from an object ``{name, quantity, amount, price, sku, externalid, options}``
    or from a plain string ``"Name=490"``. Unit price is ``price``, else ``amount / quantity``."""
    what = f"payment.products[{n}]"
    if isinstance(item, str):
        match = _PRODUCT_TEXT.match(item)
        if not match:
            raise _reject(f"{what}: строка товара не в виде «Название=сумма».")
        qty = quantity_value(match.group("qty"), what)
        amount = money_value(match.group("amount"), what)
        price = money_value(match.group("price"), what) if match.group("price") else _unit(amount, qty)
        return _checked(Line(name=match.group("name").strip()[:255], quantity=qty, price=price, amount=amount), what)
    if not isinstance(item, dict):
        raise _reject(f"{what}: товар должен быть объектом или строкой «Название=сумма».")
    item = {str(k).lower(): v for k, v in item.items()}
    name = _as_text(item.get("name")).strip()
    if not name:
        raise _reject(f"{what}: у товара нет названия.")
    qty = quantity_value(item.get("quantity"), f"{what}.quantity")
    price = money_value(item["price"], f"{what}.price") if item.get("price") not in (None, "") else None
    amount = money_value(item["amount"], f"{what}.amount") if item.get("amount") not in (None, "") else None
    if price is None and amount is None:
        raise _reject(f"{what}: у товара нет ни цены, ни суммы.")
    price = price if price is not None else _unit(amount or Decimal(0), qty)
    amount = amount if amount is not None else (price * qty).quantize(Decimal("0.01"))
    sku = _as_text(item.get("sku")).strip()
    if len(sku) > SKU_MAX:
        raise _reject(f"{what}: артикул (sku) длиннее {SKU_MAX} символов.")
    return _checked(Line(name=name[:255], quantity=qty, price=price, amount=amount, sku=sku,
                         externalid=_as_text(item.get("externalid")).strip()[:200],
                         options=_options(item.get("options"))), what)


def _checked(line: Line, what: str) -> Line:
    """A line the purchase tables can hold: a name, and sums within their columns."""
    if not line.name.strip():
        raise _reject(f"{what}: у товара нет названия.")
    if line.price > MAX_PRICE or line.price * line.quantity > MAX_PRICE:
        raise _reject(f"{what}: сумма вне допустимых пределов.")
    return line


def _unit(amount: Decimal, qty: Decimal) -> Decimal:
    return (amount / qty).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _options(value: Any) -> str:
    """``[{option: "Размер", variant: "M"}]`` (or a dict, or text) → "Размер: M"."""
    value = _decoded(value, "options")
    if isinstance(value, dict):
        value = [value[k] for k in sorted(value, key=str)]
    if isinstance(value, list):
        parts = []
        for opt in value:
            if isinstance(opt, dict):
                opt = {str(k).lower(): v for k, v in opt.items()}
                label, variant = _as_text(opt.get("option")), _as_text(opt.get("variant"))
                parts.append(f"{label}: {variant}" if label and variant else label or variant)
            elif opt not in (None, ""):
                parts.append(_as_text(opt))
        return "; ".join(p for p in parts if p)[:200]
    return _as_text(value)[:200]


def points_spent(sub: Submission, cart: Order, settings: dict[str, Any]) -> Decimal:
    """Points the client paid part of the order with: the cart's ``bonuses``/``points``, else
    the form field named in ``settings["fields"]["points"]`` (or a default name); 0 if none."""
    if cart.points is not None:
        return cart.points
    raw = sub.get(role_names("points", settings))
    return money_value(raw, "баллы к списанию") if raw else Decimal(0)
