"""Bitrix24 REST emulator, written from contracts/crm.md (not from our client).

- Auth: incoming-webhook URLs ``/rest/{user_id}/{code}/{method}`` (``.json`` optional);
  OAuth app calls ``/rest/{method}?auth={access_token}`` (``expired_token`` 401 when it
  lapses) with refresh at ``/oauth/token/``.
- Classic methods: ``crm.contact.add|update|get|list``, ``crm.deal.add|update|get|list``,
  ``crm.deal.productrows.set|get``, ``crm.category.list``, ``crm.status.list``,
  ``crm.timeline.comment.add``, ``crm.contact.userfield.list|add``,
  ``crm.deal.userfield.list|add``, ``crm.duplicate.findbycomm`` (``{entity_type, type: PHONE|EMAIL,
  values: [≤ 20]}`` → ``{"CONTACT": [ids]}``, the 20 oldest, phone extensions ignored —
  apidocs.bitrix24.com/api-reference/crm/duplicates/crm-duplicate-find-by-comm.html),
  ``crm.activity.todo.add`` (a manager's to-do on a contact,
  ``ownerTypeId`` 3, or a deal, 2: ``ownerTypeId``, ``ownerId``, ``deadline`` required → ``100``;
  an unknown item → ``NOT_FOUND``; a bad date → ``WRONG_DATETIME_FORMAT``; answers ``{"id"}``;
  without ``responsibleId`` it is the calling user's — apidocs.bitrix24.com/api-reference/crm/
  timeline/activities/todo/crm-activity-todo-add.html) with ``crm.activity.get``, and ``batch``
  (≤ 50 commands, ``$result[key]`` and ``$result[key][FIELD]`` references, answers 200 with
  ``result_error`` for failed commands). Contacts and deals carry ``ASSIGNED_BY_ID`` (their
  creator unless given). Multi-fields (PHONE, EMAIL): an item with ``ID`` replaces that value,
  ``{ID, DELETE: "Y"}`` removes it, an item without ``ID`` is appended. ``UF_CRM_*`` user
  fields are written by ``add``/``update`` (an update changes only the keys it names, "" empties
  one); ``*.get`` answers every user field of the entity, ``null`` when empty. ``*.list`` takes
  ``filter`` keys with the documented prefixes (``>= > <= < @ !@ % =% = != !``; multi-fields
  match a value exactly), ``order`` and ``select`` (b24restdocs crm-deal-list.md,
  crm-contact-list.md); ``DATE_CREATE``/``DATE_MODIFY`` are ISO 8601 in the portal's +03:00;
  ``ORIGINATOR_ID``/``ORIGIN_ID`` are stored like any field. ``state()["methods"]`` lists the
  methods run, batch commands one by one.
- Deal categories 0 "Общая", 1–3 (Lime purchases, passes, bookings) and 4–6 (event ideas,
  events, ticket sales); stages ``C{n}:NEW|PREPARATION|[EXECUTING|]WON|LOSE`` with names
  from ``crm.status.list``.
- Limits: leaky bucket, burst 50, drains 2 requests/s → 503 ``QUERY_LIMIT_EXCEEDED``;
  ``{"operation_time_limit": N}`` makes the next N calls answer 429 ``OPERATION_TIME_LIMIT``.
- Events: every change POSTs ``event=ONCRMCONTACTUPDATE&data[FIELDS][ID]=…&auth[domain]=…
  &auth[application_token]=…`` (form-encoded) to the configured handler URL.
``GET /_emulator/ui`` is a read-only HTML page of contacts and deals by pipeline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import re
import secrets
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs, urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

MAX_BATCH = 50
PAGE = 50
MULTI = ("PHONE", "EMAIL")
OWNER_TYPES = {3: "contact", 2: "deal"}  # CRM object type ids this emulator stores
PORTAL_TZ = dt.timezone(dt.timedelta(hours=3))  # a deadline without an offset is the portal's time


class ApiError(Exception):
    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code, self.description, self.status = code, description, status


def _form_to_nested(query: str) -> dict[str, Any]:
    """``fields[NAME]=A&fields[PHONE][0][VALUE]=1`` → nested dicts (lists for numeric keys)."""
    result: dict[str, Any] = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        parts = re.findall(r"[^\[\]]+", key)
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = values[-1]
    return _listify(result)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _listify(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


FILTER_PREFIXES = ("!@", ">=", "<=", "!=", "=%", "%=", "@", ">", "<", "%", "=", "!")


def _sortable(value: Any) -> Any:
    """Numbers as numbers, ISO times as times, the rest as text: how the portal's SQL compares."""
    if isinstance(value, int | float):
        return (0, value, "")
    text = "" if value is None else str(value)
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return (0, float(text), "")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return (1, 0, text)
    return (0, (moment if moment.tzinfo else moment.replace(tzinfo=PORTAL_TZ)).timestamp(), "")


def _passes(row: dict[str, Any], key: str, wanted: Any) -> bool:
    """One ``filter`` entry of a ``*.list`` (prefixes as crm.deal.list / crm.contact.list document
    them); multi-fields (PHONE, EMAIL) match one of their values exactly."""
    prefix = next((p for p in FILTER_PREFIXES if key.startswith(p)), "")
    field = key[len(prefix):]
    value = row.get(field)
    values = [v.get("VALUE") for v in value if isinstance(v, dict)] if field in MULTI else [value]
    if prefix in ("@", "!@"):
        options = {str(v) for v in (wanted if isinstance(wanted, list) else [wanted])}
        return any(str(v) in options for v in values) == (prefix == "@")
    if prefix in ("%", "=%", "%="):
        pattern = str(wanted) if prefix != "%" else f"%{wanted}%"
        regex = "^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$"
        return any(re.match(regex, str(v or ""), re.IGNORECASE | re.DOTALL) for v in values)
    if prefix in ("!", "!="):
        return all(str(v if v is not None else "") != str(wanted) for v in values)
    if prefix in (">", ">=", "<", "<="):
        if value in (None, ""):
            return False  # SQL: an empty field compares false
        left, right = _sortable(value), _sortable(wanted)
        return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[prefix]
    return any(str(v if v is not None else "") == str(wanted) for v in values)


class Bitrix24Emulator(Emulator):
    name = "bitrix24"

    def __init__(self, *, domain: str = "demo.bitrix24.ru", burst: float = 50, drain: float = 2,
                 handler_url: str = "", rate_limit: float | None = None, webhook_code: str | None = None,
                 application_token: str | None = None) -> None:
        self.domain = domain
        self.fixed_code, self.fixed_app_token = webhook_code, application_token
        self.burst, self.drain = burst, drain
        self.handler_url = handler_url
        super().__init__(rate_limit=rate_limit)

    # ----------------------------------------------------------------- state
    def reset(self) -> None:
        self.user_id, self.webhook_code = 1, self.fixed_code or secrets.token_hex(8)
        self.application_token = self.fixed_app_token or secrets.token_hex(16)
        self.member_id = secrets.token_hex(16)
        self.client_id, self.client_secret = f"local.{secrets.token_hex(6)}", secrets.token_urlsafe(16)
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.level, self.level_at = 0.0, time.monotonic()
        self.time_limited = 0
        self.stats = {"requests": 0, "503": 0, "429": 0, "commands": 0}
        self.method_log: deque[str] = deque(maxlen=500)  # REST methods run, batch commands one by one
        self.seq: dict[str, int] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.deals: dict[int, dict[str, Any]] = {}
        self.product_rows: dict[int, list[dict[str, Any]]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.comments: list[dict[str, Any]] = []
        self.activities: dict[int, dict[str, Any]] = {}
        self.userfields: dict[str, list[dict[str, Any]]] = {"contact": [], "deal": []}
        self.categories = [{"id": 0, "name": "Общая"}, {"id": 1, "name": "Покупки Лайм"},
                           {"id": 2, "name": "Проходы"}, {"id": 3, "name": "Бронирования"}]
        self.stages = {0: ["NEW", "PREPARATION", "WON", "LOSE"]}
        for cat in (1, 2, 3):
            self.stages[cat] = [f"C{cat}:NEW", f"C{cat}:PREPARATION", f"C{cat}:WON", f"C{cat}:LOSE"]
        # An event organiser's pipelines (the events feature): ideas, dated events, ticket sales.
        self.categories += [{"id": 4, "name": "Есть идея"}, {"id": 5, "name": "События"},
                            {"id": 6, "name": "Продажи билетов"}]
        self.stages[4] = ["C4:NEW", "C4:PREPARATION", "C4:EXECUTING", "C4:WON", "C4:LOSE"]
        self.stages[5] = ["C5:NEW", "C5:PREPARATION", "C5:EXECUTING", "C5:WON", "C5:LOSE"]
        self.stages[6] = ["C6:NEW", "C6:WON", "C6:LOSE"]
        self.stage_names = {"C4:NEW": "Идея", "C4:PREPARATION": "Обсуждение", "C4:EXECUTING": "Анонс готов",
                            "C5:NEW": "Новое событие", "C5:PREPARATION": "Даты согласованы со спикером",
                            "C5:EXECUTING": "Назначен администратор", "C6:NEW": "Новая продажа"}
        self.events: list[dict[str, Any]] = []
        self.users = [{"ID": "1", "NAME": "Интеграция", "LAST_NAME": "", "ACTIVE": True},
                      {"ID": "2", "NAME": "Мария", "LAST_NAME": "Смирнова", "ACTIVE": True},
                      {"ID": "3", "NAME": "Иван", "LAST_NAME": "Петров", "ACTIVE": True}]

    def _next(self, kind: str, start: int) -> int:
        self.seq[kind] = self.seq.get(kind, start - 1) + 1
        return self.seq[kind]

    def credentials(self) -> dict[str, Any]:
        return {"webhook_url": f"/rest/{self.user_id}/{self.webhook_code}/", "domain": self.domain,
                "application_token": self.application_token, "member_id": self.member_id,
                "client_id": self.client_id, "client_secret": self.client_secret, "handler_url": self.handler_url}

    def entities(self) -> dict[str, Any]:
        return {"contacts": list(self.contacts.values()), "deals": list(self.deals.values()),
                "product_rows": self.product_rows, "products": list(self.products.values()),
                "comments": self.comments, "activities": list(self.activities.values()),
                "userfields": self.userfields,
                "stats": dict(self.stats), "events_sent": len(self.events), "methods": list(self.method_log)}

    def control(self, spec: dict[str, Any]) -> None:
        if "burst" in spec:
            self.burst = float(spec["burst"])
        if "drain" in spec:
            self.drain = float(spec["drain"])
        if "operation_time_limit" in spec:
            self.time_limited = int(spec["operation_time_limit"])
        if "handler_url" in spec:
            self.handler_url = str(spec["handler_url"])
        if spec.get("expire_tokens"):
            self.access_tokens.clear()
        if isinstance(spec.get("edit_contact"), dict):
            edit = dict(spec["edit_contact"])
            contact = self.contacts.get(int(edit.pop("ID", 0)))
            if contact:
                self._apply_fields(contact, edit)
                self._event("ONCRMCONTACTUPDATE", contact["ID"])
        if isinstance(spec.get("move_deal"), dict):
            move = dict(spec["move_deal"])
            deal = self.deals.get(int(move.pop("ID", 0)))
            if deal:
                self._apply_fields(deal, move)  # STAGE_ID and any UF_CRM_ field edits
                self._event("ONCRMDEALUPDATE", deal["ID"])

    def issue_oauth_token(self) -> dict[str, Any]:
        """For tests and the sandbox: what the OAuth install flow would hand the app."""
        with self.lock:
            access, refresh = secrets.token_hex(16), secrets.token_hex(16)
            self.access_tokens[access] = time.monotonic() + 3600
            self.refresh_tokens.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "expires_in": 3600}

    # ----------------------------------------------------------------- routing
    def routes(self) -> list[Rule]:
        return [
            Rule("/rest/<int:user_id>/<code>/<method>", endpoint="ep_webhook_call", methods=["GET", "POST"]),
            Rule("/rest/<method>", endpoint="ep_oauth_call", methods=["GET", "POST"]),
            Rule("/oauth/token/", endpoint="ep_token", methods=["GET", "POST"]),
            Rule("/_emulator/ui", endpoint="ep_ui", methods=["GET"]),
        ]

    def ep_token(self, request: Request) -> Response:
        args = {**request.args, **request.form}
        if args.get("client_id") != self.client_id or args.get("client_secret") != self.client_secret:
            return json_response({"error": "invalid_client", "error_description": "Invalid client"}, 401)
        with self.lock:
            if args.get("grant_type") != "refresh_token" or args.get("refresh_token") not in self.refresh_tokens:
                return json_response({"error": "invalid_grant", "error_description": "Invalid refresh token"}, 400)
            self.refresh_tokens.discard(args["refresh_token"])
        token = self.issue_oauth_token()
        return json_response({**token, "member_id": self.member_id, "domain": self.domain})

    def ep_webhook_call(self, request: Request, user_id: int, code: str, method: str) -> Response:
        if user_id != self.user_id or not secrets.compare_digest(code, self.webhook_code):
            return json_response({"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"},
                                 401)
        return self._call(request, method)

    def ep_oauth_call(self, request: Request, method: str) -> Response:
        token = request.args.get("auth") or request.form.get("auth") or ""
        with self.lock:
            if self.access_tokens.get(token, 0) < time.monotonic():
                return json_response({"error": "expired_token", "error_description": "The access token provided "
                                      "has expired."}, 401)
        return self._call(request, method)

    def _call(self, request: Request, method: str) -> Response:
        method = method.removesuffix(".json")
        with self.lock:
            self.stats["requests"] += 1
            if self.time_limited > 0:
                self.time_limited -= 1
                self.stats["429"] += 1
                return json_response({"error": "OPERATION_TIME_LIMIT",
                                      "error_description": "Method is blocked due to operation time limit."}, 429)
            now = time.monotonic()
            self.level = max(0.0, self.level - (now - self.level_at) * self.drain)
            self.level_at = now
            if self.level + 1 > self.burst:
                self.stats["503"] += 1
                return json_response({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"},
                                     503)
            self.level += 1
        params = self._params(request)
        started = time.time()
        try:
            with self.lock:
                result = self._method(method, params) if method != "batch" else self._batch(params)
        except ApiError as exc:
            return json_response({"error": exc.code, "error_description": exc.description}, exc.status)
        return json_response({**result, "time": {"start": started, "finish": time.time()}}
                             if method == "batch" else {"result": result[0], **result[1],
                                                        "time": {"start": started, "finish": time.time()}})

    @staticmethod
    def _params(request: Request) -> dict[str, Any]:
        if request.is_json:
            data = request.get_json(silent=True)
            return data if isinstance(data, dict) else {}
        query = request.query_string.decode()
        body = request.get_data(as_text=True) if request.method == "POST" else ""
        return _form_to_nested("&".join(p for p in (query, body) if p))

    # ----------------------------------------------------------------- batch
    def _batch(self, params: dict[str, Any]) -> dict[str, Any]:
        commands = params.get("cmd")
        if not isinstance(commands, dict) or not commands:
            raise ApiError("INVALID_ARG_VALUE", "cmd must be a non-empty object")
        if len(commands) > MAX_BATCH:
            raise ApiError("ERROR_BATCH_LENGTH_EXCEEDED", f"Max batch length exceeded ({MAX_BATCH})")
        halt = str(params.get("halt", "0")) in ("1", "true")
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        totals: dict[str, Any] = {}
        nexts: dict[str, Any] = {}
        for key, command in commands.items():
            method, _, query = str(command).partition("?")
            query = re.sub(r"\$result\[([^\]]+)\](\[[^\]]+\])?", lambda m: self._ref(results, m), query)
            try:
                value, extra = self._method(method, _form_to_nested(query))
                results[key] = value
                if "total" in extra:
                    totals[key] = extra["total"]
                if "next" in extra:
                    nexts[key] = extra["next"]
            except ApiError as exc:
                errors[key] = {"error": exc.code, "error_description": exc.description}
                if halt:
                    break
        return {"result": {"result": results, "result_error": errors, "result_total": totals,
                           "result_next": nexts, "result_time": {}}}

    @staticmethod
    def _ref(results: dict[str, Any], match: re.Match[str]) -> str:
        value = results.get(match.group(1), "")
        if match.group(2) and isinstance(value, dict):
            value = value.get(match.group(2)[1:-1], "")
        return str(value)

    # ----------------------------------------------------------------- methods
    def _method(self, method: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        self.stats["commands"] += 1
        self.method_log.append(method)
        entity_methods = {
            "crm.contact.add": lambda: (self._add("contact", p), {}),
            "crm.contact.update": lambda: (self._update("contact", p), {}),
            "crm.contact.get": lambda: (self._get("contact", p), {}),
            "crm.contact.list": lambda: self._list("contact", p),
            "crm.duplicate.findbycomm": lambda: (self._duplicates(p), {}),
            "crm.deal.add": lambda: (self._add("deal", p), {}),
            "crm.deal.update": lambda: (self._update("deal", p), {}),
            "crm.deal.get": lambda: (self._get("deal", p), {}),
            "crm.deal.list": lambda: self._list("deal", p),
            "crm.deal.productrows.set": lambda: (self._rows_set(p), {}),
            "crm.deal.productrows.get": lambda: (self.product_rows.get(self._id(p), []), {}),
            "crm.category.list": lambda: ({"categories": self.categories}, {}),
            "user.get": lambda: (list(self.users), {"total": len(self.users)}),
            "crm.status.list": lambda: (self._statuses(p), {}),
            "crm.timeline.comment.add": lambda: (self._comment(p), {}),
            "crm.activity.todo.add": lambda: (self._todo_add(p), {}),
            "crm.activity.get": lambda: (self._activity_get(p), {}),
            "crm.contact.userfield.list": lambda: self._paged(self.userfields["contact"], p),
            "crm.deal.userfield.list": lambda: self._paged(self.userfields["deal"], p),
            "crm.product.add": lambda: (self._product_add(p), {}),
            "crm.product.get": lambda: (self._product_get(p), {}),
            "crm.product.list": lambda: self._paged(sorted(self.products.values(), key=lambda r: r["ID"]), p),
            "crm.contact.userfield.add": lambda: (self._userfield("contact", p), {}),
            "crm.deal.userfield.add": lambda: (self._userfield("deal", p), {}),
        }
        if method not in entity_methods:
            raise ApiError("ERROR_METHOD_NOT_FOUND", f"Method not found: {method}", 404)
        return entity_methods[method]()

    def _store(self, entity: str) -> dict[int, dict[str, Any]]:
        return self.contacts if entity == "contact" else self.deals

    @staticmethod
    def _id(p: dict[str, Any]) -> int:
        try:
            return int(p.get("id") or p.get("ID") or 0)
        except (TypeError, ValueError) as exc:
            raise ApiError("INVALID_ARG_VALUE", "ID is not an integer") from exc

    def _add(self, entity: str, p: dict[str, Any]) -> int:
        fields = p.get("fields")
        if not isinstance(fields, dict):
            raise ApiError("INVALID_ARG_VALUE", "fields are required")
        if entity == "deal":
            category = int(fields.get("CATEGORY_ID") or 0)
            stage = str(fields.get("STAGE_ID") or self.stages[category][0])
            if category not in self.stages or stage not in self.stages[category]:
                raise ApiError("ERROR_CORE", f"Stage {stage} does not belong to pipeline {category}")
        row_id = self._next(entity, 1 if entity == "contact" else 1001)
        row: dict[str, Any] = {"ID": row_id, "DATE_CREATE": self._now(), "PHONE": [], "EMAIL": []}
        self._apply_fields(row, fields)
        row.setdefault("ASSIGNED_BY_ID", str(self.user_id))
        if entity == "deal":
            row.setdefault("CATEGORY_ID", "0")
            row.setdefault("STAGE_ID", self.stages[int(row["CATEGORY_ID"])][0])
        self._store(entity)[row_id] = row
        self._event(f"ONCRM{entity.upper()}ADD", row_id)
        return row_id

    def _update(self, entity: str, p: dict[str, Any]) -> bool:
        row = self._store(entity).get(self._id(p))
        if row is None:
            raise ApiError("NOT_FOUND", f"{entity.capitalize()} is not found", 400)
        fields = p.get("fields")
        if not isinstance(fields, dict):
            raise ApiError("INVALID_ARG_VALUE", "fields are required")
        self._apply_fields(row, fields)
        self._event(f"ONCRM{entity.upper()}UPDATE", row["ID"])
        return True

    def _apply_fields(self, row: dict[str, Any], fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            if key in MULTI:
                self._multi(row, key, value if isinstance(value, list) else [value])
            elif key != "ID":
                row[key] = value
        row["DATE_MODIFY"] = self._now()

    def _multi(self, row: dict[str, Any], key: str, items: list[Any]) -> None:
        """Bitrix24's multi-field rules: ID replaces, ID+DELETE removes, no ID appends."""
        current = row.setdefault(key, [])
        for item in items:
            if not isinstance(item, dict):
                continue
            if item.get("ID"):
                match = next((v for v in current if str(v["ID"]) == str(item["ID"])), None)
                if match is None:
                    continue
                if str(item.get("DELETE", "")).upper() == "Y":
                    current.remove(match)
                else:
                    match.update({k: v for k, v in item.items() if k in ("VALUE", "VALUE_TYPE")})
            elif item.get("VALUE"):
                current.append({"ID": self._next("multi", 1), "VALUE": str(item["VALUE"]),
                                "VALUE_TYPE": item.get("VALUE_TYPE", "WORK"), "TYPE_ID": key})

    def _get(self, entity: str, p: dict[str, Any]) -> dict[str, Any]:
        """The item with every user field of its entity, ``null`` where it holds no value (as
        ``crm.*.get`` answers)."""
        row = self._store(entity).get(self._id(p))
        if row is None:
            raise ApiError("NOT_FOUND", "Not found", 400)
        return {**{f["FIELD_NAME"]: None for f in self.userfields[entity]}, **row}

    def _list(self, entity: str, p: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``filter`` with the documented key prefixes, ``order`` and ``select`` (ID always)."""
        filt = p.get("filter") if isinstance(p.get("filter"), dict) else {}
        rows = [r for r in self._store(entity).values() if all(_passes(r, k, v) for k, v in filt.items())]
        order = p.get("order") if isinstance(p.get("order"), dict) and p.get("order") else {"ID": "ASC"}
        for field, direction in reversed(list(order.items())):
            rows.sort(key=lambda r, f=field: _sortable(r.get(f)), reverse=str(direction).upper() == "DESC")
        select = [str(f) for f in p.get("select") or [] if f]
        if select and "*" not in select:
            rows = [{k: v for k, v in r.items() if k == "ID" or k in select} for r in rows]
        start = int(p.get("start", 0) or 0)
        if start == -1:
            return rows[:PAGE], {}
        page = rows[start:start + PAGE]
        extra: dict[str, Any] = {"total": len(rows)}
        if start + PAGE < len(rows):
            extra["next"] = start + PAGE
        return page, extra

    @staticmethod
    def _paged(rows: list[dict[str, Any]], p: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Lists answer 50 a page with ``next`` and ``total``."""
        start = int(p.get("start", 0) or 0)
        extra: dict[str, Any] = {"total": len(rows)}
        if start + PAGE < len(rows):
            extra["next"] = start + PAGE
        return rows[start:start + PAGE], extra

    def _duplicates(self, p: dict[str, Any]) -> Any:
        """``crm.duplicate.findbycomm``: ids of the contacts holding any of ``values`` (≤ 20) of
        ``type`` PHONE (digits compared, the extension ignored) or EMAIL (case ignored), the 20
        oldest; ``{"CONTACT": [...]}``, or ``[]`` when none. Only contacts are stored here, so a
        LEAD or COMPANY search finds nothing."""
        kind, values = str(p.get("type") or "").upper(), p.get("values")
        if kind not in MULTI or not isinstance(values, list) or not values:
            raise ApiError("INVALID_ARG_VALUE", "type (PHONE or EMAIL) and values are required")
        if len(values) > 20:
            raise ApiError("INVALID_ARG_VALUE", "Too many values: 20 at most")
        entity = str(p.get("entity_type") or "CONTACT").upper()

        def key(value: Any) -> str:
            text = str(value or "").split(";", 1)[0].split(",", 1)[0]  # an extension after ; or ,
            return re.sub(r"\D", "", text) if kind == "PHONE" else text.strip().lower()

        wanted = {key(v) for v in values} - {""}
        found = sorted(row_id for row_id, row in self.contacts.items()
                       if any(key(v.get("VALUE")) in wanted for v in row.get(kind) or []))[:20]
        return {"CONTACT": found} if found and entity in ("CONTACT", "") else []

    def _product_add(self, p: dict[str, Any]) -> int:
        fields = p.get("fields")
        if not isinstance(fields, dict) or not fields.get("NAME"):
            raise ApiError("INVALID_ARG_VALUE", "fields[NAME] is required")
        product_id = self._next("product", 501)
        self.products[product_id] = {"ID": product_id, "NAME": str(fields["NAME"]),
                                     "PRICE": float(fields.get("PRICE") or 0),
                                     "CURRENCY_ID": fields.get("CURRENCY_ID", "RUB")}
        return product_id

    def _product_get(self, p: dict[str, Any]) -> dict[str, Any]:
        product = self.products.get(self._id(p))
        if product is None:
            raise ApiError("NOT_FOUND", "Product is not found", 400)
        return product

    def _rows_set(self, p: dict[str, Any]) -> bool:
        deal_id = self._id(p)
        if deal_id not in self.deals:
            raise ApiError("NOT_FOUND", "Deal is not found", 400)
        rows = p.get("rows") or []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ApiError("INVALID_ARG_VALUE", "rows must be a list of objects")
        for r in rows:
            if int(r.get("PRODUCT_ID") or 0) and int(r["PRODUCT_ID"]) not in self.products:
                raise ApiError("ERROR_CORE", f"Product {r['PRODUCT_ID']} is not found")
        self.product_rows[deal_id] = [{"PRODUCT_NAME": r.get("PRODUCT_NAME", ""),
                                       "PRODUCT_ID": int(r.get("PRODUCT_ID") or 0),
                                       "PRICE": float(r.get("PRICE") or 0), "QUANTITY": float(r.get("QUANTITY") or 1)}
                                      for r in rows]
        return True

    def _statuses(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        entity = str((p.get("filter") or {}).get("ENTITY_ID", "DEAL_STAGE"))
        category = 0 if entity == "DEAL_STAGE" else int(entity.rsplit("_", 1)[-1] or 0)
        return [{"STATUS_ID": s, "NAME": self.stage_names.get(s, s.split(":")[-1].title()), "ENTITY_ID": entity,
                 "SORT": (n + 1) * 10}
                for n, s in enumerate(self.stages.get(category, []))]

    def _comment(self, p: dict[str, Any]) -> int:
        fields = p.get("fields") or {}
        if not fields.get("ENTITY_ID") or not fields.get("COMMENT"):
            raise ApiError("INVALID_ARG_VALUE", "ENTITY_ID, ENTITY_TYPE and COMMENT are required")
        comment_id = self._next("comment", 1)
        self.comments.append({"ID": comment_id, **fields})
        return comment_id

    def _todo_add(self, p: dict[str, Any]) -> dict[str, int]:
        """A to-do on a contact's/deal's timeline, as ``crm.activity.todo.add`` documents it."""
        missing = [name for name in ("ownerTypeId", "ownerId", "deadline") if p.get(name) in (None, "")]
        if missing:
            raise ApiError("100", f"Required fields are missing: {', '.join(missing)}")
        try:
            owner_type, owner_id = int(p["ownerTypeId"]), int(p["ownerId"])
            responsible = int(p.get("responsibleId") or self.user_id)
        except (TypeError, ValueError) as exc:
            raise ApiError("INVALID_ARG_VALUE", "ownerTypeId, ownerId and responsibleId are integers") from exc
        entity = OWNER_TYPES.get(owner_type)
        if entity is None or owner_id not in self._store(entity):
            raise ApiError("NOT_FOUND", "Not found.", 400)
        try:
            deadline = dt.datetime.fromisoformat(str(p["deadline"]))
        except ValueError as exc:
            raise ApiError("WRONG_DATETIME_FORMAT", "Incorrect date format", 400) from exc
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=PORTAL_TZ)
        activity_id = self._next("activity", 301)
        self.activities[activity_id] = {
            "ID": str(activity_id), "OWNER_TYPE_ID": str(owner_type), "OWNER_ID": str(owner_id),
            "TYPE_ID": "6", "PROVIDER_ID": "CRM_TODO", "SUBJECT": str(p.get("title") or ""),
            "DESCRIPTION": str(p.get("description") or ""), "DEADLINE": deadline.isoformat(),
            "RESPONSIBLE_ID": str(responsible), "COMPLETED": "N", "CREATED": self._now()}
        return {"id": activity_id}

    def _activity_get(self, p: dict[str, Any]) -> dict[str, Any]:
        activity = self.activities.get(self._id(p))
        if activity is None:
            raise ApiError("NOT_FOUND", "Not found.", 400)
        return activity

    def _userfield(self, entity: str, p: dict[str, Any]) -> int:
        fields = p.get("fields") or {}
        if not fields.get("FIELD_NAME"):
            raise ApiError("INVALID_ARG_VALUE", "FIELD_NAME is required")
        field_id = self._next("uf", 100)
        name = "UF_CRM_" + str(fields["FIELD_NAME"]).upper().removeprefix("UF_CRM_")
        self.userfields[entity].append({"ID": field_id, **fields, "FIELD_NAME": name})
        return field_id

    @staticmethod
    def _now() -> str:
        """The portal's time with its offset, as DATE_CREATE / DATE_MODIFY are answered."""
        return dt.datetime.now(PORTAL_TZ).isoformat(timespec="seconds")

    # ----------------------------------------------------------------- events
    def _event(self, event: str, entity_id: int) -> None:
        if not self.handler_url:
            return
        body = urlencode([("event", event), ("data[FIELDS][ID]", str(entity_id)), ("ts", str(int(time.time()))),
                          ("auth[domain]", self.domain), ("auth[client_endpoint]", f"https://{self.domain}/rest/"),
                          ("auth[server_endpoint]", "https://oauth.bitrix.info/rest/"),
                          ("auth[member_id]", self.member_id), ("auth[application_token]", self.application_token)])
        self.events.append({"event": event, "id": entity_id})
        self.deliver_later(self.handler_url, body, {"Content-Type": "application/x-www-form-urlencoded"})

    # ----------------------------------------------------------------- sandbox page
    @staticmethod
    def _user_fields(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k.startswith("UF_")}

    def ep_ui(self, request: Request) -> Response:
        with self.lock:
            rows = "".join(
                f"<tr><td>{c['ID']}</td><td>{html.escape(str(c.get('NAME', '')))} "
                f"{html.escape(str(c.get('LAST_NAME', '')))}</td>"
                f"<td>{html.escape(', '.join(p['VALUE'] for p in c.get('PHONE', [])))}</td>"
                f"<td>{html.escape(json.dumps(self._user_fields(c), ensure_ascii=False))}"
                f"</td></tr>" for c in sorted(self.contacts.values(), key=lambda c: c["ID"]))
            deals = ""
            for category in self.categories:
                items = "".join(f"<li>{html.escape(str(d.get('TITLE', '')))} — {d.get('STAGE_ID')} "
                                f"({d.get('OPPORTUNITY', 0)} ₽)</li>"
                                for d in self.deals.values() if int(d.get("CATEGORY_ID") or 0) == category["id"])
                deals += f"<h3>{html.escape(category['name'])}</h3><ul>{items or '<li>—</li>'}</ul>"
        page = (f"<html><head><meta charset='utf-8'><title>Bitrix24 emulator</title></head><body>"
                f"<h1>Битрикс24 (эмулятор) — {self.domain}</h1><h2>Контакты</h2><table border=1>"
                f"<tr><th>ID</th><th>имя</th><th>телефоны</th><th>поля</th></tr>{rows}</table>"
                f"<h2>Сделки по воронкам</h2>{deals}</body></html>")
        return Response(page, mimetype="text/html")


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--domain", default="demo.bitrix24.ru")
        parser.add_argument("--burst", type=float, default=50)
        parser.add_argument("--drain", type=float, default=2)
        parser.add_argument("--handler-url", default="")
        parser.add_argument("--webhook-code", default=None)
        parser.add_argument("--application-token", default=None)

    run_cli(lambda a: Bitrix24Emulator(domain=a.domain, burst=a.burst, drain=a.drain, handler_url=a.handler_url,
                                       webhook_code=a.webhook_code, application_token=a.application_token),
            "Bitrix24 REST emulator", add_arguments)


if __name__ == "__main__":
    main()
