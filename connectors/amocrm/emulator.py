"""amoCRM (API v4) emulator, written from contracts/crm.md (not from our client).

- OAuth 2.0: ``POST /oauth2/access_token`` (authorization_code / refresh_token); access
  tokens expire; refresh tokens are SINGLE-USE ("Token has been revoked" on reuse); a
  long-lived token (private integrations) also works.
- Limits: 7 requests/s per integration (token) and 50/s per account → 429 problem+json;
  after ``block_after`` 429s in a row the account is blocked: every call answers 403
  with an nginx HTML page until ``{"unblock": true}``.
- Contacts, leads (+ ``/leads/complex`` ≤ 50), pipelines 3001–3007 with statuses
  ``pipeline*10+n`` (142 won, 143 lost), links, notes (one entity's, and in bulk:
  ``POST /api/v4/{contacts|leads}/notes`` with ``entity_id`` in each item), tasks
  (``GET|POST /api/v4/tasks``: ``text`` and ``complete_till`` required, the linked lead/contact
  must exist, types 1 call and 2 meeting, ``request_id`` echoed; without ``responsible_user_id``
  the token's user — amocrm.ru/developers/content/crm_platform/tasks-api,
  developers.kommo.com/reference/add-tasks), custom fields, catalogs; a write with one invalid
  item is refused whole (400 ``validation-errors`` by ``request_id``, e.g. a ``PATCH`` naming a
  lead that is gone); a write changes only the custom fields it names (``"values": null``
  empties one); every contact/lead/task has a ``responsible_user_id`` (its creator unless
  given); at most 250 entities per write; paging with ``page``/``limit`` ≤ 250, ``_links.next``,
  204 for an empty list; ``application/hal+json`` answers, ``application/problem+json`` errors.
- Lists take ``filter[id|pipeline_id|responsible_user_id|name][]`` (one value or several),
  ``filter[created_at|updated_at][from|to]`` (unix seconds), ``order[id|created_at|updated_at]``
  and ``query``, which "searches the entity's filled fields" (amocrm.ru/developers/content/
  crm_platform/contacts-api, leads-api; developers.kommo.com/reference/leads-list): here a
  case-insensitive substring of its names or of any custom field value (phones, e-mails…).
- Webhooks: every change (through the API too, as in amoCRM) is POSTed form-encoded in the
  legacy v2 format (``contacts[update][0][id]=…``, ``leads[status][0][status_id]=…``,
  ``account[subdomain]``) to the configured destination.

Knobs (POST /_emulator/faults): ``{"expire_tokens": true}``, ``{"unblock": true}``,
``{"per_token_limit": 7, "account_limit": 50}``, ``{"webhook_url": "…"}``,
``{"edit_contact": {"id": 5, "name": "…"}}`` (a manager's edit in the CRM UI);
``{"move_deal": {"id": 9, "status_id": 30041, "custom_fields_values": […]}}`` (a lead dragged
to another status, with any field edits).
``GET /_emulator/ui`` is a read-only HTML page of contacts and deals by pipeline.
"""

from __future__ import annotations

import argparse
import html
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

MAX_BATCH = 250
MAX_COMPLEX = 50
WON, LOST = 142, 143
USER_ID = 6000001  # the user every token belongs to (the integration's)
TASK_TYPES = {1, 2}  # built-in: call, meeting
TASK_ENTITIES = ("leads", "contacts", "companies", "customers")
BLOCK_PAGE = "<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1></center>" \
             "<hr><center>nginx</center></body></html>"


def hal(data: Any, status: int = 200) -> Response:
    response = json_response(data, status)
    response.mimetype = "application/hal+json"
    return response


def problem(status: int, title: str, detail: str = "", errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"title": title, "type": "https://httpstatus.es/" + str(status), "status": status,
                            "detail": detail}
    if errors:
        body["validation-errors"] = errors
    response = json_response(body, status)
    response.mimetype = "application/problem+json"
    return response


class AmoCRMEmulator(Emulator):
    name = "amocrm"

    def __init__(self, *, subdomain: str = "demo", per_token_limit: float = 7, account_limit: float = 50,
                 block_after: int = 20, token_ttl: int = 86400, webhook_url: str = "",
                 rate_limit: float | None = None, long_lived_token: str | None = None) -> None:
        self.subdomain = subdomain
        self.per_token_limit, self.account_limit = per_token_limit, account_limit
        self.block_after = block_after
        self.token_ttl = token_ttl
        self.webhook_url = webhook_url
        self.client_id, self.client_secret = secrets.token_hex(8), secrets.token_urlsafe(16)
        self.redirect_uri = "https://hub.example/oauth/amocrm"
        self.fixed_long_lived = long_lived_token
        super().__init__(rate_limit=rate_limit)

    # ----------------------------------------------------------------- state
    def reset(self) -> None:
        self.account_id = 30000001
        self.tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.used_refresh_tokens: set[str] = set()
        self.auth_codes = {secrets.token_urlsafe(12)}
        self.long_lived = self.fixed_long_lived or secrets.token_urlsafe(32)
        self.calls: dict[str, deque[float]] = {}
        self.too_many_in_a_row = 0
        self.blocked = False
        self.stats = {"requests": 0, "429": 0, "403": 0}
        self.seq: dict[str, int] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.leads: dict[int, dict[str, Any]] = {}
        self.notes: list[dict[str, Any]] = []
        self.tasks: dict[int, dict[str, Any]] = {}
        self.links: list[dict[str, Any]] = []
        self.custom_fields: dict[str, list[dict[str, Any]]] = {
            "contacts": [
                {"id": 101, "name": "Телефон", "code": "PHONE", "type": "multitext"},
                {"id": 102, "name": "Email", "code": "EMAIL", "type": "multitext"},
            ],
            "leads": [],
        }
        self.pipelines = [
            self._pipeline(3001, "Воронка", True, ["Неразобранное", "Новая", "В работе"]),
            self._pipeline(3002, "Покупки Лайм", False, ["Новая покупка"]),
            self._pipeline(3003, "Проходы", False, ["Проход"]),
            self._pipeline(3004, "Бронирования", False, ["Заявка", "Бронь запрошена", "Подтверждено"]),
            self._pipeline(3005, "Идеи мероприятий", False, ["Идея", "Обсуждение", "Анонс готов"]),
            self._pipeline(3006, "События", False, ["Новое событие", "Даты согласованы со спикером",
                                                    "Назначен администратор"]),
            self._pipeline(3007, "Продажи билетов", False, ["Новая продажа"]),
        ]
        self.catalogs = [{"id": 5001, "name": "Товары", "type": "products"}]
        self.users = [{"id": USER_ID, "name": "Интеграция", "email": "api@example.ru"},
                      {"id": USER_ID + 1, "name": "Мария Смирнова", "email": "maria@example.ru"},
                      {"id": USER_ID + 2, "name": "Иван Петров", "email": "ivan@example.ru"}]
        self.catalog_elements: dict[int, dict[str, Any]] = {}
        self.webhook_log: list[dict[str, Any]] = []

    def _pipeline(self, pid: int, name: str, main: bool, stages: list[str]) -> dict[str, Any]:
        statuses = [{"id": pid * 10 + n, "name": s, "sort": (n + 1) * 10, "pipeline_id": pid}
                    for n, s in enumerate(stages)]
        statuses += [{"id": WON, "name": "Успешно реализовано", "sort": 10000, "pipeline_id": pid},
                     {"id": LOST, "name": "Закрыто и не реализовано", "sort": 11000, "pipeline_id": pid}]
        return {"id": pid, "name": name, "is_main": main, "_embedded": {"statuses": statuses}}

    def _next(self, kind: str, start: int) -> int:
        self.seq[kind] = self.seq.get(kind, start - 1) + 1
        return self.seq[kind]

    def credentials(self) -> dict[str, Any]:
        return {"subdomain": self.subdomain, "client_id": self.client_id, "client_secret": self.client_secret,
                "redirect_uri": self.redirect_uri, "authorization_code": next(iter(self.auth_codes), ""),
                "long_lived_token": self.long_lived, "account_id": self.account_id,
                "webhook_url": self.webhook_url}

    def entities(self) -> dict[str, Any]:
        return {"contacts": list(self.contacts.values()), "leads": list(self.leads.values()),
                "notes": self.notes, "tasks": list(self.tasks.values()), "links": self.links,
                "custom_fields": self.custom_fields,
                "catalog_elements": list(self.catalog_elements.values()), "stats": dict(self.stats),
                "blocked": self.blocked, "webhooks_sent": len(self.webhook_log)}

    def control(self, spec: dict[str, Any]) -> None:
        if spec.get("expire_tokens"):
            self.tokens.clear()
        if spec.get("unblock"):
            self.blocked, self.too_many_in_a_row = False, 0
        for key in ("per_token_limit", "account_limit"):
            if key in spec:
                setattr(self, key, float(spec[key]))
        if "webhook_url" in spec:
            self.webhook_url = str(spec["webhook_url"])
        if isinstance(spec.get("edit_contact"), dict):
            edit = dict(spec["edit_contact"])
            contact = self.contacts.get(int(edit.pop("id", 0)))
            if contact:
                contact.update(edit)
                contact["updated_at"] = int(time.time())
                self._webhook("contacts", "update", contact)
        if isinstance(spec.get("move_deal"), dict):  # a manager drags a lead to another status
            move = dict(spec["move_deal"])
            lead = self.leads.get(int(move.pop("id", 0)))
            if lead:
                self._upsert("leads", self.leads, {**move, "id": lead["id"]}, create=False)

    # ----------------------------------------------------------------- plumbing
    def routes(self) -> list[Rule]:
        return [
            Rule("/oauth2/access_token", endpoint="ep_oauth", methods=["POST"]),
            Rule("/api/v4/contacts", endpoint="ep_contacts", methods=["GET", "POST", "PATCH"]),
            Rule("/api/v4/contacts/<int:entity_id>", endpoint="ep_contact_one", methods=["GET", "PATCH"]),
            Rule("/api/v4/contacts/<int:entity_id>/notes", endpoint="ep_contact_notes", methods=["POST"]),
            Rule("/api/v4/contacts/notes", endpoint="ep_contacts_notes", methods=["POST"]),
            Rule("/api/v4/contacts/custom_fields", endpoint="ep_contact_fields", methods=["GET", "POST"]),
            Rule("/api/v4/leads", endpoint="ep_leads", methods=["GET", "POST", "PATCH"]),
            Rule("/api/v4/leads/complex", endpoint="ep_leads_complex", methods=["POST"]),
            Rule("/api/v4/leads/pipelines", endpoint="ep_pipelines", methods=["GET"]),
            Rule("/api/v4/leads/custom_fields", endpoint="ep_lead_fields", methods=["GET", "POST"]),
            Rule("/api/v4/leads/<int:entity_id>", endpoint="ep_lead_one", methods=["GET", "PATCH"]),
            Rule("/api/v4/leads/link", endpoint="ep_leads_link", methods=["POST"]),
            Rule("/api/v4/leads/<int:entity_id>/link", endpoint="ep_lead_link", methods=["POST"]),
            Rule("/api/v4/leads/<int:entity_id>/notes", endpoint="ep_lead_notes", methods=["POST"]),
            Rule("/api/v4/leads/notes", endpoint="ep_leads_notes", methods=["POST"]),
            Rule("/api/v4/tasks", endpoint="ep_tasks", methods=["GET", "POST"]),
            Rule("/api/v4/catalogs", endpoint="ep_catalogs", methods=["GET"]),
            Rule("/api/v4/users", endpoint="ep_users", methods=["GET"]),
            Rule("/api/v4/catalogs/<int:catalog_id>/elements", endpoint="ep_catalog_elements", methods=["GET", "POST"]),
            Rule("/_emulator/ui", endpoint="ep_ui", methods=["GET"]),
        ]

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/api/v4/"):
            gate = self._gate(request)
            if gate is not None:
                return gate
        return super().dispatch(request)

    def _gate(self, request: Request) -> Response | None:
        """Auth, then the two limits, then the account block — in amoCRM's order."""
        with self.lock:
            self.stats["requests"] += 1
            if self.blocked:
                self.stats["403"] += 1
                return Response(BLOCK_PAGE, status=403, mimetype="text/html")
            header = request.headers.get("Authorization", "")
            token = header[7:] if header.startswith("Bearer ") else ""
            if token != self.long_lived and self.tokens.get(token, 0) < time.monotonic():
                return problem(401, "Unauthorized", "Access token is invalid or expired")
            now = time.monotonic()
            if self._over(f"token:{token}", self.per_token_limit, now) or self._over(
                    "account", self.account_limit, now):
                self.stats["429"] += 1
                self.too_many_in_a_row += 1
                if self.too_many_in_a_row >= self.block_after:
                    self.blocked = True
                return problem(429, "Too Many Requests", "Rate limit exceeded")
            self.too_many_in_a_row = 0
            for key in (f"token:{token}", "account"):
                self.calls.setdefault(key, deque()).append(now)
        return None

    def _over(self, key: str, limit: float, now: float) -> bool:
        window = self.calls.setdefault(key, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        return len(window) >= limit

    def _json(self, request: Request) -> Any:
        return request.get_json(force=True, silent=True)

    # ----------------------------------------------------------------- OAuth
    def ep_oauth(self, request: Request) -> Response:
        body = self._json(request) or {}
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return problem(401, "Unauthorized", "Client authentication failed")
        grant = body.get("grant_type")
        with self.lock:
            if grant == "authorization_code":
                if body.get("code") not in self.auth_codes:
                    return problem(400, "Bad Request", "Authorization code has expired")
                self.auth_codes.discard(body["code"])
            elif grant == "refresh_token":
                token = body.get("refresh_token")
                if token in self.used_refresh_tokens:
                    return problem(400, "Bad Request", "Token has been revoked")
                if token not in self.refresh_tokens:
                    return problem(400, "Bad Request", "Refresh token is invalid")
                self.refresh_tokens.discard(token)
                self.used_refresh_tokens.add(token)  # single use
            else:
                return problem(400, "Bad Request", "Unsupported grant type")
            access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            self.tokens[access] = time.monotonic() + self.token_ttl
            self.refresh_tokens.add(refresh)
        return json_response({"token_type": "Bearer", "expires_in": self.token_ttl, "access_token": access,
                              "refresh_token": refresh})

    # ----------------------------------------------------------------- entities
    def _page(self, request: Request, entity: str, rows: list[dict[str, Any]]) -> Response:
        try:
            limit = min(int(request.args.get("limit", 50)), MAX_BATCH)
            page = max(int(request.args.get("page", 1)), 1)
        except ValueError:
            return problem(400, "Bad Request", "page and limit must be integers")
        try:
            rows = self._filtered(request, rows)
        except ValueError:
            return problem(400, "Bad Request", "filter values must be integers where the filter takes numbers")
        chunk = rows[(page - 1) * limit: page * limit]
        if not chunk:
            return Response(status=204)
        base = f"https://{self.subdomain}.amocrm.ru{request.path}"
        links = {"self": {"href": f"{base}?page={page}&limit={limit}"}}
        if page * limit < len(rows):
            links["next"] = {"href": f"{base}?page={page + 1}&limit={limit}"}
        return hal({"_page": page, "_links": links, "_embedded": {entity: chunk}})

    @staticmethod
    def _filtered(request: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The list filters (each ``filter[x]`` or ``filter[x][]`` taking one value or several;
        ranges as ``[from]``/``[to]``), ``query`` and ``order[field]=asc|desc`` (by id otherwise)."""
        args = request.args

        def many(name: str) -> list[str]:
            return args.getlist(f"filter[{name}][]") or args.getlist(f"filter[{name}]")

        for name in ("id", "pipeline_id", "responsible_user_id"):
            if many(name):
                wanted = {int(v) for v in many(name)}
                rows = [r for r in rows if r.get(name) in wanted]
        if many("name"):
            names = set(many("name"))
            rows = [r for r in rows if r.get("name") in names]
        for name in ("created_at", "updated_at"):
            start, end = args.get(f"filter[{name}][from]"), args.get(f"filter[{name}][to]")
            if start:
                rows = [r for r in rows if r.get(name, 0) >= int(start)]
            if end:
                rows = [r for r in rows if r.get(name, 0) <= int(end)]
        text = str(args.get("query") or "").strip().lower()
        if text:
            rows = [r for r in rows if any(text in value.lower() for value in AmoCRMEmulator._filled(r))]
        order = next(((f, str(args[f"order[{f}]"]).lower()) for f in ("id", "created_at", "updated_at")
                      if f"order[{f}]" in args), ("id", "asc"))
        return sorted(rows, key=lambda r: (r.get(order[0], 0), r["id"]), reverse=order[1] == "desc")

    @staticmethod
    def _filled(row: dict[str, Any]) -> list[str]:
        """What ``query`` searches: the filled fields — names and every custom field value."""
        texts = [str(row.get(k) or "") for k in ("name", "first_name", "last_name")]
        for field in row.get("custom_fields_values") or []:
            for value in (field.get("values") or []) if isinstance(field, dict) else []:
                if isinstance(value, dict) and value.get("value") not in (None, ""):
                    texts.append(str(value["value"]))
        return [t for t in texts if t]

    def _validate_contact(self, item: Any, index: int) -> list[dict[str, Any]]:
        errors = []
        if not isinstance(item, dict):
            return [{"code": "InvalidType", "path": str(index), "detail": "This value should be of type object."}]
        for n, field in enumerate(item.get("custom_fields_values") or []):
            ok_ids = {f["id"] for f in self.custom_fields["contacts"]}
            ok_codes = {f.get("code") for f in self.custom_fields["contacts"]}
            if not isinstance(field, dict) or (field.get("field_id") not in ok_ids and
                                               field.get("field_code") not in ok_codes):
                errors.append({"code": "NotSupportedChoice", "path": f"custom_fields_values.{n}.field_id",
                               "detail": "The value you selected is not a valid choice."})
        return errors

    def _write_many(self, request: Request, entity: str, store: dict[int, dict[str, Any]]) -> Response:
        items = self._json(request)
        if not isinstance(items, list) or not items:
            return problem(400, "Bad Request", "Request body must be a non-empty array")
        if len(items) > MAX_BATCH:
            return problem(400, "Bad Request", f"Maximum {MAX_BATCH} entities per request")
        errors = []
        for n, item in enumerate(items):
            found = self._validate_contact(item, n) if entity == "contacts" else (
                [] if isinstance(item, dict) else [{"code": "InvalidType", "path": str(n), "detail": "object"}])
            if request.method == "PATCH" and isinstance(item, dict) and int(item.get("id") or 0) not in store:
                found.append({"code": "NotFound", "path": "id", "detail": "Entity not found"})
            if found:
                errors.append({"request_id": str(item.get("request_id", n)) if isinstance(item, dict) else str(n),
                               "errors": found})
        if errors:
            return problem(400, "Bad Request", "Request validation failed", errors)
        answer = []
        with self.lock:
            for n, item in enumerate(items):
                row = self._upsert(entity, store, item, create=request.method == "POST")
                answer.append({"id": row["id"], "request_id": str(item.get("request_id", n)),
                               "_links": {"self": {"href": f"/api/v4/{entity}/{row['id']}"}}})
        return hal({"_links": {"self": {"href": f"/api/v4/{entity}"}}, "_embedded": {entity: answer}})

    def _upsert(self, entity: str, store: dict[int, dict[str, Any]], item: dict[str, Any], create: bool,
                ) -> dict[str, Any]:
        now = int(time.time())
        if create:
            row = {"id": self._next(entity, 700001 if entity == "contacts" else 900001), "created_at": now,
                   "responsible_user_id": USER_ID, "custom_fields_values": [], "_embedded": {}}
            action = "add"
        else:
            row = store[int(item["id"])]
            action = "update"
        old_status = row.get("status_id")
        for key, value in item.items():
            if key in ("id", "request_id", "created_at"):
                continue
            if key == "custom_fields_values" and isinstance(value, list):
                row[key] = self._merge_fields(row.get(key) or [], value)
                continue
            row[key] = value
        if entity == "contacts" and not row.get("name"):
            row["name"] = " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
        if entity == "leads":
            pipeline = row.get("pipeline_id") or self.pipelines[0]["id"]
            row["pipeline_id"] = pipeline
            row.setdefault("status_id", self._first_status(pipeline))
        row["updated_at"] = now
        store[row["id"]] = row
        self._webhook(entity, action, row)
        if entity == "leads" and not create and old_status != row.get("status_id"):
            self._webhook(entity, "status", row, old_status=old_status)
        return row

    @staticmethod
    def _merge_fields(current: list[dict[str, Any]], sent: list[Any]) -> list[dict[str, Any]]:
        """amoCRM changes only the fields a request names; ``"values": null`` (or []) clears one."""
        merged = {f.get("field_id") or f.get("field_code"): f for f in current if isinstance(f, dict)}
        for field in sent:
            if not isinstance(field, dict):
                continue
            key = field.get("field_id") or field.get("field_code")
            if field.get("values"):
                merged[key] = field
            else:
                merged.pop(key, None)
        return list(merged.values())

    def _first_status(self, pipeline_id: int) -> int:
        pipeline = next((p for p in self.pipelines if p["id"] == pipeline_id), self.pipelines[0])
        return pipeline["_embedded"]["statuses"][0]["id"]

    def ep_contacts(self, request: Request) -> Response:
        if request.method == "GET":
            with self.lock:
                return self._page(request, "contacts", list(self.contacts.values()))
        return self._write_many(request, "contacts", self.contacts)

    def ep_contact_one(self, request: Request, entity_id: int) -> Response:
        return self._one(request, "contacts", self.contacts, entity_id)

    def ep_leads(self, request: Request) -> Response:
        if request.method == "GET":
            with self.lock:
                return self._page(request, "leads", list(self.leads.values()))
        return self._write_many(request, "leads", self.leads)

    def ep_lead_one(self, request: Request, entity_id: int) -> Response:
        return self._one(request, "leads", self.leads, entity_id)

    def _one(self, request: Request, entity: str, store: dict[int, dict[str, Any]], entity_id: int) -> Response:
        with self.lock:
            row = store.get(entity_id)
            if row is None:
                return problem(404, "Not Found", f"{entity[:-1].capitalize()} not found")
            if request.method == "GET":
                return hal(row)
            item = self._json(request)
            if not isinstance(item, dict):
                return problem(400, "Bad Request", "Request body must be an object")
            row = self._upsert(entity, store, {**item, "id": entity_id}, create=False)
        return hal({"id": row["id"], "updated_at": row["updated_at"]})

    def ep_leads_complex(self, request: Request) -> Response:
        items = self._json(request)
        if not isinstance(items, list) or not items:
            return problem(400, "Bad Request", "Request body must be a non-empty array")
        if len(items) > MAX_COMPLEX:
            return problem(400, "Bad Request", f"Maximum {MAX_COMPLEX} leads per request")
        answer = []
        with self.lock:
            for n, item in enumerate(items):
                if not isinstance(item, dict):
                    return problem(400, "Bad Request", "Each lead must be an object")
                contacts = [self._upsert("contacts", self.contacts, c, create=True)["id"]
                            for c in (item.get("_embedded") or {}).get("contacts", []) if isinstance(c, dict)]
                lead_fields = {k: v for k, v in item.items() if k != "_embedded"}
                lead = self._upsert("leads", self.leads, lead_fields, create=True)
                lead["_embedded"] = {"contacts": [{"id": cid} for cid in contacts]}
                answer.append({"id": lead["id"], "contact_id": contacts[0] if contacts else None,
                               "request_id": [str(item.get("request_id", n))], "merged": False})
        return hal(answer)

    def ep_pipelines(self, request: Request) -> Response:
        return hal({"_total_items": len(self.pipelines), "_embedded": {"pipelines": self.pipelines}})

    def ep_leads_link(self, request: Request) -> Response:
        """Bulk linking: each item names its lead in ``entity_id``."""
        items = self._json(request)
        if not isinstance(items, list) or not items or len(items) > MAX_BATCH:
            return problem(400, "Bad Request", f"Request body must be an array of 1..{MAX_BATCH} links")
        with self.lock:
            missing = [i for i in items if not isinstance(i, dict) or int(i.get("entity_id") or 0) not in self.leads]
            if missing:
                return problem(400, "Bad Request", "Lead not found", [{"request_id": "0", "errors": [
                    {"code": "NotFound", "path": "entity_id", "detail": "Entity not found"}]}])
            for item in items:
                self._link(int(item["entity_id"]), {k: v for k, v in item.items() if k != "entity_id"})
        return hal({"_embedded": {"links": items}})

    def _link(self, lead_id: int, item: dict[str, Any]) -> None:
        """Linking an element again updates its quantity."""
        self.links = [link for link in self.links if (link["lead_id"], link.get("to_entity_id")) !=
                      (lead_id, item.get("to_entity_id"))]
        self.links.append({"lead_id": lead_id, **item})

    def ep_lead_link(self, request: Request, entity_id: int) -> Response:
        items = self._json(request)
        if entity_id not in self.leads or not isinstance(items, list):
            return problem(404 if entity_id not in self.leads else 400, "Bad Request", "Lead not found or bad body")
        with self.lock:
            for item in items:
                if isinstance(item, dict):
                    self._link(entity_id, item)
        return hal({"_embedded": {"links": items}})

    def _notes(self, request: Request, entity: str, store: dict[int, dict[str, Any]], entity_id: int) -> Response:
        items = self._json(request)
        if entity_id not in store:
            return problem(404, "Not Found", "Entity not found")
        if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("note_type") for i in items):
            return problem(400, "Bad Request", "Notes must be an array of {note_type, params}")
        with self.lock:
            created = []
            for item in items:
                note = {"id": self._next("note", 1), "entity_id": entity_id, "entity": entity, **item}
                self.notes.append(note)
                created.append({"id": note["id"], "entity_id": entity_id})
        return hal({"_embedded": {"notes": created}})

    def ep_contact_notes(self, request: Request, entity_id: int) -> Response:
        return self._notes(request, "contacts", self.contacts, entity_id)

    def ep_lead_notes(self, request: Request, entity_id: int) -> Response:
        return self._notes(request, "leads", self.leads, entity_id)

    def _notes_bulk(self, request: Request, entity: str, store: dict[int, dict[str, Any]]) -> Response:
        """Notes for many entities of one type: each item names its own in ``entity_id``."""
        items = self._json(request)
        with self.lock:
            refused = self._bulk_refusal(items, lambda item, n: self._validate_note(item, n, store))
            if refused is not None:
                return refused
            created = []
            for n, item in enumerate(items):
                fields = {k: v for k, v in item.items() if k not in ("request_id", "entity_id")}
                note = {"id": self._next("note", 1), "entity_id": int(item["entity_id"]), "entity": entity, **fields}
                self.notes.append(note)
                href = f"/api/v4/{entity}/{note['entity_id']}/notes/{note['id']}"
                created.append({"id": note["id"], "entity_id": note["entity_id"],
                                "request_id": self._request_id(item, n), "_links": {"self": {"href": href}}})
        return hal({"_links": {"self": {"href": f"/api/v4/{entity}/notes"}}, "_embedded": {"notes": created}})

    @staticmethod
    def _validate_note(item: Any, n: int, store: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
        if not isinstance(item, dict):
            return [{"code": "InvalidType", "path": str(n), "detail": "This value should be of type object."}]
        errors = []
        if not item.get("note_type"):
            errors.append({"code": "FieldMissing", "path": "note_type", "detail": "This field is missing."})
        if not isinstance(item.get("entity_id"), int) or item["entity_id"] not in store:
            errors.append({"code": "NotFound", "path": "entity_id", "detail": "Entity not found"})
        return errors

    def _bulk_refusal(self, items: Any, validate: Callable[[Any, int], list[dict[str, Any]]]) -> Response | None:
        """amoCRM's answer to a bulk write it refuses as a whole (not an array, too many items,
        or any one item invalid: none is created), else None."""
        if not isinstance(items, list) or not items:
            return problem(400, "Bad Request", "Request body must be a non-empty array")
        if len(items) > MAX_BATCH:
            return problem(400, "Bad Request", f"Maximum {MAX_BATCH} entities per request")
        errors = [{"request_id": self._request_id(item, n), "errors": found}
                  for n, item in enumerate(items) if (found := validate(item, n))]
        return problem(400, "Bad Request", "Request validation failed", errors) if errors else None

    @staticmethod
    def _request_id(item: Any, n: int) -> str:
        """The client's ``request_id`` as sent; without one, the item's position."""
        return str(item.get("request_id", n)) if isinstance(item, dict) else str(n)

    def ep_contacts_notes(self, request: Request) -> Response:
        return self._notes_bulk(request, "contacts", self.contacts)

    def ep_leads_notes(self, request: Request) -> Response:
        return self._notes_bulk(request, "leads", self.leads)

    # ----------------------------------------------------------------- tasks
    def ep_tasks(self, request: Request) -> Response:
        if request.method == "GET":
            with self.lock:
                return self._page(request, "tasks", list(self.tasks.values()))
        items = self._json(request)
        with self.lock:
            refused = self._bulk_refusal(items, self._validate_task)
            if refused is not None:
                return refused
            answer = []
            now = int(time.time())
            for n, item in enumerate(items):
                task = {"id": self._next("task", 4700001), "created_by": USER_ID, "updated_by": USER_ID,
                        "created_at": now, "updated_at": now,
                        "responsible_user_id": item.get("responsible_user_id") or USER_ID, "group_id": 0,
                        "entity_id": item.get("entity_id"), "entity_type": item.get("entity_type"),
                        "duration": int(item.get("duration") or 0), "is_completed": bool(item.get("is_completed")),
                        "task_type_id": item.get("task_type_id") or 1, "text": item["text"], "result": [],
                        "complete_till": item["complete_till"], "account_id": self.account_id}
                self.tasks[task["id"]] = task
                answer.append({"id": task["id"], "request_id": self._request_id(item, n),
                               "_links": {"self": {"href": f"/api/v4/tasks/{task['id']}"}}})
        return hal({"_links": {"self": {"href": "/api/v4/tasks"}}, "_embedded": {"tasks": answer}})

    def _validate_task(self, item: Any, n: int) -> list[dict[str, Any]]:
        """The docs' rules: ``text`` and ``complete_till`` (unix seconds) required; a linked entity
        is one of four types and must exist; known task types only."""
        if not isinstance(item, dict):
            return [{"code": "InvalidType", "path": str(n), "detail": "This value should be of type object."}]
        errors = []

        def wrong(code: str, path: str, detail: str) -> None:
            errors.append({"code": code, "path": path, "detail": detail})

        if not isinstance(item.get("text"), str) or not item["text"].strip():
            wrong("FieldMissing", "text", "This field is missing.")
        if "complete_till" not in item:
            wrong("FieldMissing", "complete_till", "This field is missing.")
        elif not isinstance(item["complete_till"], int) or isinstance(item["complete_till"], bool):
            wrong("InvalidType", "complete_till", "This value should be of type int.")
        for name in ("responsible_user_id", "task_type_id", "entity_id"):
            if name in item and (not isinstance(item[name], int) or isinstance(item[name], bool)):
                wrong("InvalidType", name, "This value should be of type int.")
        if isinstance(item.get("task_type_id"), int) and item["task_type_id"] not in TASK_TYPES:
            wrong("NotSupportedChoice", "task_type_id", "The value you selected is not a valid choice.")
        entity_type, entity_id = item.get("entity_type"), item.get("entity_id")
        if entity_type is not None and entity_type not in TASK_ENTITIES:
            wrong("NotSupportedChoice", "entity_type", "The value you selected is not a valid choice.")
        elif (entity_id is None) != (entity_type is None):
            wrong("FieldMissing", "entity_type" if entity_type is None else "entity_id", "This field is missing.")
        elif isinstance(entity_id, int):
            stores = {"contacts": self.contacts, "leads": self.leads}
            if entity_id not in stores.get(str(entity_type), {}):
                wrong("NotFound", "entity_id", "Entity not found")
        return errors

    def _fields(self, request: Request, entity: str) -> Response:
        if request.method == "GET":
            with self.lock:
                return self._page(request, "custom_fields", list(self.custom_fields[entity]))
        items = self._json(request)
        if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("name") and i.get("type")
                                                  for i in items):
            return problem(400, "Bad Request", "Fields must be an array of {name, type}")
        with self.lock:
            created = []
            for item in items:
                field = {"id": self._next("field", 200001), **item}
                self.custom_fields[entity].append(field)
                created.append(field)
        return hal({"_embedded": {"custom_fields": created}})

    def ep_contact_fields(self, request: Request) -> Response:
        return self._fields(request, "contacts")

    def ep_lead_fields(self, request: Request) -> Response:
        return self._fields(request, "leads")

    def ep_users(self, request: Request) -> Response:
        with self.lock:
            return self._page(request, "users", list(self.users))

    def ep_catalogs(self, request: Request) -> Response:
        with self.lock:
            return self._page(request, "catalogs", list(self.catalogs))

    def ep_catalog_elements(self, request: Request, catalog_id: int) -> Response:
        if catalog_id not in {c["id"] for c in self.catalogs}:
            return problem(404, "Not Found", "Catalog not found")
        if request.method == "GET":
            with self.lock:
                rows = [e for e in self.catalog_elements.values() if e["catalog_id"] == catalog_id]
                return self._page(request, "elements", rows)
        items = self._json(request)
        if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("name") for i in items):
            return problem(400, "Bad Request", "Elements must be an array of {name, …}")
        with self.lock:
            created = []
            for item in items:
                element = {"id": self._next("element", 1), "catalog_id": catalog_id,
                           "updated_at": int(time.time()), **item}
                self.catalog_elements[element["id"]] = element
                created.append({"id": element["id"], "request_id": item.get("request_id")})
        return hal({"_embedded": {"elements": created}})

    # ----------------------------------------------------------------- webhooks
    def _webhook(self, entity: str, action: str, row: dict[str, Any], old_status: int | None = None) -> None:
        """Queue a legacy-format (API v2 names) form-encoded hook; sent by a background thread."""
        if not self.webhook_url:
            return
        prefix = f"{entity}[{action}][0]"
        fields: list[tuple[str, str]] = [(f"{prefix}[id]", str(row["id"]))]
        if action == "status":
            fields += [(f"{prefix}[status_id]", str(row.get("status_id"))),
                       (f"{prefix}[pipeline_id]", str(row.get("pipeline_id"))),
                       (f"{prefix}[old_status_id]", str(old_status or ""))]
        else:
            fields += [(f"{prefix}[name]", str(row.get("name") or "")),
                       (f"{prefix}[date_create]", str(row.get("created_at", ""))),
                       (f"{prefix}[last_modified]", str(row.get("updated_at", ""))),
                       (f"{prefix}[updated_at]", str(row.get("updated_at", "")))]
            for i, field in enumerate(row.get("custom_fields_values") or []):
                if not isinstance(field, dict):
                    continue
                fields.append((f"{prefix}[custom_fields][{i}][id]", str(field.get("field_id", ""))))
                if field.get("field_code"):
                    fields.append((f"{prefix}[custom_fields][{i}][code]", str(field["field_code"])))
                for j, value in enumerate(field.get("values") or []):
                    if isinstance(value, dict):
                        fields.append((f"{prefix}[custom_fields][{i}][values][{j}][value]", str(value.get("value"))))
                        if value.get("enum_code"):
                            fields.append((f"{prefix}[custom_fields][{i}][values][{j}][enum]",
                                           str(value["enum_code"])))
        fields += [("account[subdomain]", self.subdomain), ("account[id]", str(self.account_id))]
        body = urlencode(fields)
        self.webhook_log.append({"entity": entity, "action": action, "body": body})
        self.deliver_later(self.webhook_url, body, timeout=2, headers={  # amoCRM waits at most 2 s
            "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "amoCRM-Webhooks/3.0",
            "X-Amocrm-Requestid": secrets.token_hex(8)})

    # ----------------------------------------------------------------- sandbox page
    def ep_ui(self, request: Request) -> Response:
        with self.lock:
            rows = "".join(
                f"<tr><td>{c['id']}</td><td>{html.escape(str(c.get('name', '')))}</td>"
                f"<td>{html.escape(json.dumps(c.get('custom_fields_values', []), ensure_ascii=False))}</td></tr>"
                for c in sorted(self.contacts.values(), key=lambda c: c["id"]))
            deals = ""
            for pipeline in self.pipelines:
                stages = {s["id"]: s["name"] for s in pipeline["_embedded"]["statuses"]}
                items = "".join(
                    f"<li>{html.escape(str(d.get('name', '')))} — {html.escape(stages.get(d['status_id'], '?'))}"
                    f" ({d.get('price', 0)} ₽)</li>"
                    for d in self.leads.values() if d["pipeline_id"] == pipeline["id"])
                deals += f"<h3>{html.escape(pipeline['name'])}</h3><ul>{items or '<li>—</li>'}</ul>"
        page = (f"<html><head><meta charset='utf-8'><title>amoCRM emulator</title></head><body>"
                f"<h1>amoCRM (эмулятор) — {self.subdomain}</h1><h2>Контакты</h2>"
                f"<table border=1><tr><th>id</th><th>имя</th><th>поля</th></tr>{rows}</table>"
                f"<h2>Сделки по воронкам</h2>{deals}</body></html>")
        return Response(page, mimetype="text/html")


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--subdomain", default="demo")
        parser.add_argument("--per-token-limit", type=float, default=7)
        parser.add_argument("--account-limit", type=float, default=50)
        parser.add_argument("--webhook-url", default="")
        parser.add_argument("--long-lived-token", default=None)

    run_cli(lambda a: AmoCRMEmulator(subdomain=a.subdomain, per_token_limit=a.per_token_limit,
                                     account_limit=a.account_limit, webhook_url=a.webhook_url,
                                     long_lived_token=a.long_lived_token),
            "amoCRM API v4 emulator", add_arguments)


if __name__ == "__main__":
    main()
