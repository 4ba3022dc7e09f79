"""Lime emulator, written from contracts/lime.md (not from our client).

Confirmed parts: ``/connect/token`` (password and refresh grants, form or multipart,
client_id ``Jade.Api``), Bearer auth, ``/api/<Entity>/Select`` → ``{"data": [...]}``,
``/api/CashdeskServer/*`` and ``/api/ClientManagement/*`` as listed there; amounts of
rights in kopecks, times ISO without offset (venue local time).
Assumed parts (our design, mirrored in connectors/lime/mapping.py): the change feeds
``Clients/Select`` and ``PreOrders/Select`` (filter ``modifiedFrom`` + ``afterId``: rows
strictly after that (modified, id), in that order), ``Checks/Select`` and
``Passes/Select`` (filter ``afterId``, in id order); writes ``ClientManagement/Update``,
``ClientManagement/AddFamilyLink``, ``PreOrders/Insert|Update|Cancel``; all money in kopecks.

Knobs (POST /_emulator/faults): ``{"expire_tokens": true}``, ``{"expire_tokens_after": 7}``
(API calls), ``{"token_ttl": 5}``,
``{"generate": {"clients": 1, "checks": 2, "passes": 3}}``, ``{"edit_client": {"id": 5,
"displayName": "…"}}``, ``{"delete_client": 5}``, ``{"flaky_pages": {"rate": 0.3, "seed": 1,
"statuses": [500, 502, 503]}}`` (each ``*/Select`` page then fails at random, seeded, with one
of those statuses; ``{"flaky_pages": null}`` stops it). ``POST /_emulator/pass``: someone walks
through a turnstile now; answers the new pass (its id is what a benchmark waits to see
downstream). ``--demo`` keeps producing activity.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import secrets
import threading
import time
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

CLIENT_ID = "Jade.Api"
MAX_TAKE = 500
FIRST = ["Анна", "Мария", "Елена", "Ольга", "Ирина", "Алексей", "Дмитрий", "Сергей", "Андрей", "Павел"]
LAST = ["Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов", "Новиков"]
KIDS = ["Петя", "Маша", "Ваня", "Соня", "Миша", "Алиса", "Тёма", "Варя"]
RELATIONS = ["Сын", "Дочь", "Внук", "Внучка", "Подопечный"]
SERVICE_POINTS = ["Турникет вход 1", "Турникет вход 2", "Горка «Камикадзе»", "Волновой бассейн",
                  "Детская зона", "Сауна (платная зона)"]


def _female(last: str, first: str) -> str:
    return last + "а" if first in ("Анна", "Мария", "Елена", "Ольга", "Ирина") else last


class LimeEmulator(Emulator):
    name = "lime"
    default_rate_limit = None  # Lime's limits are not published

    def __init__(self, *, clients: int = 300, checks: int | None = None, passes: int | None = None,
                 seed: int = 7, rate_limit: float | None = None, username: str = "api@venue.example",
                 password: str | None = None, token_ttl: int = 3600, tz: str = "Europe/Moscow") -> None:
        self.n_clients, self.n_checks, self.n_passes = clients, checks, passes
        self.seed = seed
        self.username, self.password = username, password or secrets.token_urlsafe(10)
        self.token_ttl = token_ttl
        self.tz = ZoneInfo(tz)
        super().__init__(rate_limit=rate_limit)

    # ----------------------------------------------------------------- data
    def reset(self) -> None:
        self.rng = random.Random(self.seed)
        self.tokens: dict[str, float] = {}  # access token → expiry (monotonic)
        self.widget_token = str(uuid.UUID(int=self.seed))
        self.expire_after: int | None = None
        self.flaky: tuple[random.Random, float, list[int]] | None = None  # the flaky_pages knob
        self.refresh_tokens: set[str] = set()
        self.seq: dict[str, int] = {}
        self.installations = [{"id": 1, "name": "Аквапарк «Волна»"}]
        self.cashdesks = [{"id": 1, "installationId": 1, "name": "Касса 1", "canWrite": True},
                          {"id": 2, "installationId": 1, "name": "Касса 2", "canWrite": True},
                          {"id": 3, "installationId": 1, "name": "Сайт", "canWrite": False}]
        self.categories = [
            {"id": 1, "name": "Билеты", "parentId": None},
            {"id": 2, "name": "Взрослые билеты", "parentId": 1},
            {"id": 3, "name": "Детские билеты", "parentId": 1},
            {"id": 4, "name": "Депозит", "parentId": None},
            {"id": 5, "name": "Дни рождения", "parentId": None},
            {"id": 6, "name": "Платные зоны", "parentId": None},
        ]
        self.good_types = [
            {"id": 101, "name": "Взрослый билет, 3 часа", "basePrice": 150000, "categoryId": 2, "type": "ticket"},
            {"id": 102, "name": "Взрослый билет, весь день", "basePrice": 220000, "categoryId": 2, "type": "ticket"},
            {"id": 103, "name": "Детский билет, 3 часа", "basePrice": 90000, "categoryId": 3, "type": "ticket"},
            {"id": 104, "name": "Детский билет, весь день", "basePrice": 130000, "categoryId": 3, "type": "ticket"},
            {"id": 201, "name": "Пополнение депозита", "basePrice": 100000, "categoryId": 4, "type": "deposit"},
            {"id": 301, "name": "Пакет «День рождения» на 10 гостей", "basePrice": 2500000, "categoryId": 5,
             "type": "service"},
            {"id": 401, "name": "Сауна, 1 час", "basePrice": 50000, "categoryId": 6, "type": "service"},
            {"id": 402, "name": "Полотенце", "basePrice": 30000, "categoryId": 6, "type": "goods"},
        ]
        self.service_points = [{"id": i + 1, "name": n} for i, n in enumerate(SERVICE_POINTS)]
        self.clients: dict[int, dict[str, Any]] = {}
        self.cards: dict[int, dict[str, Any]] = {}
        self.checks: dict[int, dict[str, Any]] = {}
        self.passes: dict[int, dict[str, Any]] = {}
        self.preorders: dict[int, dict[str, Any]] = {}
        self.rights: dict[int, dict[str, Any]] = {}
        self.shifts: dict[int, dict[str, Any]] = {}
        start = self._now() - dt.timedelta(days=180)
        for _ in range(self.n_clients):
            self._new_family(start + dt.timedelta(seconds=self.rng.randint(0, 170 * 86400)))
        n_checks = self.n_checks if self.n_checks is not None else self.n_clients * 2
        n_passes = self.n_passes if self.n_passes is not None else self.n_clients * 3
        for _ in range(n_checks):
            self._new_check(start + dt.timedelta(seconds=self.rng.randint(0, 179 * 86400)))
        for _ in range(n_passes):
            self._new_pass(start + dt.timedelta(seconds=self.rng.randint(0, 179 * 86400)))

    def _now(self) -> dt.datetime:
        return dt.datetime.now(self.tz).replace(tzinfo=None, microsecond=0)

    @staticmethod
    def _iso(value: dt.datetime) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%S")

    def _next(self, kind: str, start: int = 1) -> int:
        self.seq[kind] = self.seq.get(kind, start - 1) + 1
        return self.seq[kind]

    def _new_card(self, client_id: int | None) -> dict[str, Any]:
        card_id = self._next("card", 5001)
        card = {"id": card_id, "code": f"{7700000000 + card_id}", "uid": uuid.UUID(int=card_id).hex[:14].upper(),
                "userId": client_id}
        self.cards[card_id] = card
        if client_id is not None:
            self.clients[client_id]["cards"].append({"id": card_id, "code": card["code"]})
        return card

    def _new_client(self, when: dt.datetime, **fields: Any) -> dict[str, Any]:
        client_id = self._next("client", 10001)
        client = {"id": client_id, "displayName": "", "phoneNumber": "", "email": "", "birthDate": None,
                  "category": "adult", "familyLinks": [], "cards": [], "modified": self._iso(when), **fields}
        self.clients[client_id] = client
        return client

    def _new_family(self, when: dt.datetime) -> dict[str, Any]:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        phone = f"79{rng.randint(100000000, 999999999)}"
        parent = self._new_client(
            when, displayName=f"{_female(last, first)} {first}", phoneNumber=phone,
            email=f"client{len(self.clients) + 1}@example.ru" if rng.random() < 0.6 else "",
            birthDate=f"{rng.randint(1970, 1998)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        self._new_card(parent["id"])
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            shared = rng.random() < 0.5  # cashdesks often put the parent's contacts on the child
            child = self._new_client(
                when, displayName=f"{rng.choice(KIDS)} {last}", category="child",
                phoneNumber=phone if shared else "", email=parent["email"] if shared else "",
                birthDate=f"{rng.randint(2012, 2022)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
            if rng.random() < 0.5:
                self._new_card(child["id"])
            parent["familyLinks"].append({"clientId": child["id"], "relationType": rng.choice(RELATIONS)})
        return parent

    def _family_cards(self, client: dict[str, Any]) -> list[tuple[int, int]]:
        """(card id, holder id) of a client and their children."""
        members = [client] + [self.clients[link["clientId"]] for link in client["familyLinks"]
                              if link["clientId"] in self.clients]
        return [(card["id"], member["id"]) for member in members for card in member["cards"]]

    def _adults(self) -> list[dict[str, Any]]:
        return [c for c in self.clients.values() if c["category"] == "adult" and not c.get("deleted")]

    def _new_check(self, when: dt.datetime) -> dict[str, Any] | None:
        adults = self._adults()
        if not adults:
            return None
        client = self.rng.choice(adults)
        cards = self._family_cards(client) or [(None, client["id"])]
        check_id = self._next("check", 900001)
        entries = []
        for n in range(self.rng.randint(1, 3)):
            card_id, holder = self.rng.choice(cards)
            good = self.rng.choice(self.good_types)
            count = self.rng.choice([1, 1, 1, 2])
            entries.append({"id": n + 1, "goodTypeId": good["id"], "price": good["basePrice"],
                            "basePrice": good["basePrice"], "count": count, "amount": good["basePrice"] * count,
                            "cardId": card_id, "userId": holder})
        check = {"id": check_id, "installationId": 1, "cashdeskId": self.rng.choice([1, 2, 3]),
                 "userId": 158934, "clientId": client["id"], "time": self._iso(when), "type": 0,
                 "entries": entries}
        self.checks[check_id] = check
        return check

    def _new_pass(self, when: dt.datetime) -> dict[str, Any] | None:
        cards = [c for c in self.cards.values() if c["userId"] and not self.clients[c["userId"]].get("deleted")]
        if not cards:
            return None
        card = self.rng.choice(cards)
        holder = self.clients[card["userId"]]
        payer = next((c["id"] for c in self.clients.values()
                      if any(link["clientId"] == holder["id"] for link in c["familyLinks"])), holder["id"])
        point = self.rng.choice(self.service_points)
        deposit = point["name"].startswith("Сауна")
        pass_id = self._next("pass", 3000001)
        record = {"id": pass_id, "time": self._iso(when), "servicePointId": point["id"],
                  "servicePointName": point["name"], "cardId": card["id"], "userId": holder["id"],
                  "payerId": payer, "goodTypeId": 401 if deposit else self.rng.choice([101, 103]),
                  "amount": 50000 if deposit else 0, "operatorName": "Контролёр " + str(point["id"])}
        self.passes[pass_id] = record
        return record

    def credentials(self) -> dict[str, Any]:
        return {"username": self.username, "password": self.password, "client_id": CLIENT_ID,
                "lime_token": self.widget_token,
                "installation_id": 1, "cashdesk_id": 1}

    def entities(self) -> dict[str, Any]:
        active = [c for c in self.clients.values() if not c.get("deleted")]
        return {
            "clients": len(active), "children": sum(c["category"] == "child" for c in active),
            "checks": len(self.checks), "check_entries": sum(len(c["entries"]) for c in self.checks.values()),
            "passes": len(self.passes), "preorders": list(self.preorders.values()),
            "good_types": len(self.good_types),
        }

    def client_record(self, client_id: int) -> dict[str, Any] | None:
        """For tests: one client as Lime holds it."""
        with self.lock:
            client = self.clients.get(client_id)
            return dict(client) if client else None

    def control(self, spec: dict[str, Any]) -> None:
        if spec.get("expire_tokens"):
            self.tokens.clear()
        if "expire_tokens_after" in spec:  # revoke every token after N more API calls
            self.expire_after = int(spec["expire_tokens_after"])
        if "token_ttl" in spec:
            self.token_ttl = int(spec["token_ttl"])
        if isinstance(spec.get("generate"), dict):
            self.generate(**{k: int(v) for k, v in spec["generate"].items()})
        if isinstance(spec.get("edit_client"), dict):
            edit = dict(spec["edit_client"])
            client = self.clients.get(int(edit.pop("id", 0)))
            if client:
                client.update(edit)
                client["modified"] = self._iso(self._now())
        if "flaky_pages" in spec:
            flaky = spec["flaky_pages"] or {}
            self.flaky = (random.Random(int(flaky.get("seed", 0))), float(flaky.get("rate", 0)),
                          [int(s) for s in flaky.get("statuses") or [503]]) if flaky else None
        if spec.get("delete_client"):
            client = self.clients.get(int(spec["delete_client"]))
            if client:
                client["deleted"] = True

    def generate(self, clients: int = 0, checks: int = 0, passes: int = 0) -> None:
        now = self._now()
        for _ in range(clients):
            self._new_family(now)
        for _ in range(checks):
            self._new_check(now)
        for _ in range(passes):
            self._new_pass(now)

    # ----------------------------------------------------------------- routes
    def routes(self) -> list[Rule]:
        return [
            Rule("/connect/token", endpoint="token", methods=["POST"]),
            Rule("/api/<entity>/Select", endpoint="select", methods=["POST"]),
            Rule("/api/CashdeskServer/<op>", endpoint="cashdesk", methods=["GET", "POST"]),
            Rule("/api/ClientManagement/<op>", endpoint="client_management", methods=["GET", "POST"]),
            Rule("/api/PreOrders/<op>", endpoint="preorders_write", methods=["POST"]),
            Rule("/_emulator/pass", endpoint="turnstile", methods=["POST"]),
        ]

    def turnstile(self, request: Request) -> Response:
        """A visitor with a card passes a turnstile now: one new pass, answered whole."""
        with self.lock:
            record = self._new_pass(self._now())
        if record is None:
            return json_response({"error": "no client with a card"}, 409)
        return json_response(record, 201)

    def token(self, request: Request) -> Response:
        form = request.form  # urlencoded and multipart alike
        if form.get("client_id") != CLIENT_ID:
            return json_response({"error": "invalid_client"}, 400)
        grant = form.get("grant_type")
        with self.lock:
            if grant == "password":
                if form.get("username") != self.username or form.get("password") != self.password:
                    return json_response(
                        {"error": "invalid_grant", "error_description": "invalid_username_or_password"}, 400)
            elif grant == "refresh_token":
                if form.get("refresh_token") not in self.refresh_tokens:
                    return json_response({"error": "invalid_grant"}, 400)
                self.refresh_tokens.discard(form["refresh_token"])
            else:
                return json_response({"error": "unsupported_grant_type"}, 400)
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            self.tokens[access] = time.monotonic() + self.token_ttl
            self.refresh_tokens.add(refresh)
        return json_response({"access_token": access, "refresh_token": refresh, "expires_in": self.token_ttl,
                              "token_type": "Bearer"})

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("LimeToken ") and header[10:] == self.widget_token:
            return True  # the static widget scheme
        token = header[7:] if header.startswith("Bearer ") else ""
        with self.lock:
            if self.expire_after is not None:
                self.expire_after -= 1
                if self.expire_after < 0:
                    self.tokens.clear()
                    self.expire_after = None
            expiry = self.tokens.get(token)
            if expiry is None or expiry < time.monotonic():
                self.tokens.pop(token, None)
                return False
        return True

    def _body(self, request: Request) -> dict[str, Any]:
        data = request.get_json(force=True, silent=True)
        return data if isinstance(data, dict) else {}

    def select(self, request: Request, entity: str) -> Response:
        with self.lock:
            if self.flaky and self.flaky[0].random() < self.flaky[1]:  # a gateway's bad moment
                return json_response({"error": "page failed (flaky_pages)"}, self.flaky[0].choice(self.flaky[2]))
        if not self._authorised(request):
            return Response(status=401)
        body = self._body(request)
        filt = body.get("filter") or {}
        page = body.get("page") or {}
        if not isinstance(filt, dict) or not isinstance(page, dict):
            return json_response({"error": "filter and page must be objects"}, 400)
        try:
            skip, take = int(page.get("skip", 0)), min(int(page.get("take", 25)), MAX_TAKE)
        except (TypeError, ValueError):
            return json_response({"error": "page.skip and page.take must be integers"}, 400)
        with self.lock:
            rows, order_key, since_key = self._feed(entity)
            if rows is None:
                return json_response({"error": f"unknown entity {entity}"}, 404)
            if "id" in filt:
                ids = filt["id"] if isinstance(filt["id"], list) else [filt["id"]]
                rows = [r for r in rows if r["id"] in ids]
            for key in ("installationId", "canWrite"):
                if key in filt:
                    rows = [r for r in rows if r.get(key) == filt[key]]
            try:
                rows = self._after(rows, order_key, since_key, filt)
            except (TypeError, ValueError):
                return json_response({"error": "afterId must be an integer"}, 400)
            data = [self._public(entity, r) for r in rows[skip:skip + take]]
        return json_response({"data": data})

    @staticmethod
    def _after(rows: list[dict[str, Any]], order_key: str, since_key: str,
               filt: dict[str, Any]) -> list[dict[str, Any]]:
        """Keyset paging: rows strictly after (since, afterId) in (order_key, id) order."""
        if not order_key:
            return rows
        after_id = int(filt["afterId"]) if filt.get("afterId") is not None else None
        if order_key == "id":
            rows = [r for r in rows if after_id is None or r["id"] > after_id]
        elif filt.get(since_key):
            since = str(filt[since_key])[:19]
            rows = [r for r in rows if r[order_key] > since or (
                r[order_key] == since and (after_id is None or r["id"] > after_id))]
        return sorted(rows, key=lambda r: (r[order_key], r["id"]))

    def _feed(self, entity: str) -> tuple[list[dict[str, Any]] | None, str, str]:
        feeds = {
            "Installations": (lambda: self.installations, "", ""),
            "Cashdesks": (lambda: self.cashdesks, "", ""),
            "GoodTypes": (lambda: [{**g, "installationId": 1} if isinstance(g, dict) else g
                                   for g in self.good_types], "", ""),
            "Clients": (lambda: [c for c in self.clients.values() if not c.get("deleted")], "modified",
                        "modifiedFrom"),
            "Checks": (lambda: list(self.checks.values()), "id", ""),
            "Passes": (lambda: list(self.passes.values()), "id", ""),
            "PreOrders": (lambda: list(self.preorders.values()), "modified", "modifiedFrom"),
        }
        if entity not in feeds:
            return None, "", ""
        rows, order_key, since_key = feeds[entity]
        return rows(), order_key, since_key

    @staticmethod
    def _public(entity: str, row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k != "deleted"} if entity == "Clients" else dict(row)

    # CashdeskServer ---------------------------------------------------------------
    def cashdesk(self, request: Request, op: str) -> Response:
        if not self._authorised(request):
            return Response(status=401)
        args = {**request.args, **(self._body(request) if request.method == "POST" and op != "PutCheck" else {})}
        try:
            return self._cashdesk(request, op, args)
        except (TypeError, ValueError) as exc:
            return json_response({"error": f"bad parameter: {exc}"}, 400)

    def _cashdesk(self, request: Request, op: str, args: dict[str, Any]) -> Response:
        with self.lock:
            if op == "GetShift":
                shift = self.shifts.get(int(args.get("cashdeskId", 0)))
                return json_response({"shift": shift} if shift else None)
            if op == "OpenShift":
                desk = int(args.get("cashdeskId", 0))
                self.shifts[desk] = {"id": self._next("shift", 71)}
                return json_response({"shift": self.shifts[desk]})
            if op == "GetAllGoodTypesAndCategoriesForInstallation":
                return json_response({"categories": self.categories, "goodTypes": self.good_types})
            if op == "GenerateCard":
                return json_response({"card": {k: v for k, v in self._new_card(None).items() if k in ("id", "code")}})
            if op == "GetNextCheckId":
                return json_response(self._next("check", 900001))
            if op == "GetServerCurrentTime":
                return json_response(self._iso(self._now()))
            if op == "GetOrCreateRight":
                wanted = {k: args.get(k) for k in ("cardId", "goodTypeId", "clientId", "price", "time")}
                existing = next((r for r in self.rights.values()
                                 if all(r.get(k) == wanted[k] for k in ("cardId", "goodTypeId", "time"))), None)
                if existing:
                    return json_response({"id": existing["id"]})
                right_id = self._next("right", 1)
                self.rights[right_id] = {"id": right_id, **wanted}
                return json_response({"id": right_id})
            if op == "GetCardInfo":
                card = self.cards.get(int(args.get("cardId") or 0)) or next(
                    (c for c in self.cards.values() if c["uid"] == args.get("uid")), None)
                if card is None:
                    return json_response(None)
                spent = sum(p["amount"] for p in self.passes.values() if p["cardId"] == card["id"])
                topped = sum(e["amount"] for c in self.checks.values() for e in c["entries"]
                             if e["cardId"] == card["id"] and e["goodTypeId"] == 201)
                return json_response({"rights": [{"right": {"amount": max(topped - spent, 0), "to": None}}]})
            if op == "PutCheck":
                return self._put_check(self._body(request))
        return json_response({"error": f"unknown operation {op}"}, 404)

    def _put_check(self, body: dict[str, Any]) -> Response:
        check = body.get("check") or {}
        entries = body.get("entries") or []
        if not isinstance(check, dict) or not check.get("id") or not isinstance(entries, list) or not entries:
            return json_response({"error": "check.id and entries are required"}, 400)
        if not all(isinstance(e, dict) and isinstance(e.get("entry"), dict) for e in entries):
            return json_response({"error": "each entry is {\"entry\": {...}, \"payments\": [...]}"}, 400)
        self.checks[int(check["id"])] = {
            "id": int(check["id"]), "installationId": check.get("installationId"),
            "cashdeskId": check.get("cashdeskId"), "userId": check.get("userId"),
            "clientId": next((e["entry"].get("userId") for e in entries if e.get("entry", {}).get("userId")), None),
            "time": str(check.get("time") or self._iso(self._now()))[:19], "type": check.get("type", 0),
            "entries": [{"id": n + 1, "goodTypeId": e["entry"].get("goodTypeId"), "price": e["entry"].get("price"),
                         "basePrice": e["entry"].get("basePrice"), "count": e["entry"].get("count", 1),
                         "amount": e["entry"].get("amount"),
                         "cardId": e["entry"].get("cardId"), "userId": e["entry"].get("userId")}
                        for n, e in enumerate(entries)],
        }
        return json_response({"id": int(check["id"])})

    # ClientManagement ---------------------------------------------------------------
    def client_management(self, request: Request, op: str) -> Response:
        if not self._authorised(request):
            return Response(status=401)
        body = {**request.args, **self._body(request)}
        try:
            return self._client_management(op, body)
        except (TypeError, ValueError) as exc:
            return json_response({"error": f"bad parameter: {exc}"}, 400)

    def _client_management(self, op: str, body: dict[str, Any]) -> Response:
        with self.lock:
            if op == "Insert":
                digits = "".join(ch for ch in str(body.get("phoneNumber", "")) if ch.isdigit())
                if not (body.get("email") or digits):
                    return json_response({"error": "email or phoneNumber is required"}, 400)
                client = self._new_client(self._now(), displayName=str(body.get("displayName") or ""),
                                          phoneNumber=digits, email=str(body.get("email") or ""))
                return json_response(client["id"])
            if op == "Update":
                client = self.clients.get(int(body.get("id") or 0))
                if client is None or client.get("deleted"):
                    return json_response({"error": "client not found"}, 404)
                for key in ("displayName", "email", "birthDate"):
                    if key in body:
                        client[key] = body[key]
                if "phoneNumber" in body:
                    client["phoneNumber"] = "".join(ch for ch in str(body["phoneNumber"]) if ch.isdigit())
                client["modified"] = self._iso(self._now())
                return json_response({"userData": self._public("Clients", client)})
            if op == "AddFamilyLink":
                parent = self.clients.get(int(body.get("parentId") or 0))
                child = self.clients.get(int(body.get("childId") or 0))
                if not parent or not child:
                    return json_response({"error": "client not found"}, 404)
                if not any(link["clientId"] == child["id"] for link in parent["familyLinks"]):
                    parent["familyLinks"].append({"clientId": child["id"],
                                                  "relationType": body.get("relationType") or "Другое"})
                    parent["modified"] = self._iso(self._now())
                return json_response(True)
            if op == "GetClientInfoByEmail":
                email = str(body.get("email", "")).lower()
                return json_response([{"userData": self._public("Clients", c)} for c in self.clients.values()
                                      if c["email"].lower() == email and email and not c.get("deleted")])
            if op == "GetClientInfoByCardUid":
                card = next((c for c in self.cards.values() if c["uid"] == body.get("uid")), None)
                client = self.clients.get(card["userId"]) if card and card["userId"] else None
                return json_response({"userData": self._public("Clients", client)} if client else None)
            if op == "GetCardInfoByCardUid":
                card = next((c for c in self.cards.values() if c["uid"] == body.get("uid")), None)
                return json_response({"card": {"id": card["id"], "userId": card["userId"]}} if card else None)
            if op == "GetRights":
                client_id = int(body.get("clientId") or 0)
                names = {g["id"]: g["name"] for g in self.good_types}
                return json_response([
                    {"right": {"goodTypeName": names.get(int(r["goodTypeId"] or 0), ""), "amount": r.get("price"),
                               "from": r.get("time"), "to": None}}
                    for r in self.rights.values() if str(r.get("clientId")) == str(client_id)])
        return json_response({"error": f"unknown operation {op}"}, 404)

    # PreOrders (assumed) ------------------------------------------------------------
    def preorders_write(self, request: Request, op: str) -> Response:
        if op == "Select":  # the same path shape as the writes
            return self.select(request, "PreOrders")
        if not self._authorised(request):
            return Response(status=401)
        body = self._body(request)
        with self.lock:
            if op == "Insert":
                problem = self._preorder_problem(body)
                if problem:
                    return json_response({"error": problem}, 400)
                existing = next((p for p in self.preorders.values()
                                 if body.get("externalId") and p.get("externalId") == body.get("externalId")), None)
                if existing:  # same external id: the same preorder, not a second one
                    return json_response(existing["id"])
                pre_id = self._next("preorder", 40001)
                self.preorders[pre_id] = self._preorder(pre_id, body)
                return json_response(pre_id)
            preorder = self.preorders.get(int(body.get("id") or 0))
            if preorder is None:
                return json_response({"error": "preorder not found"}, 404)
            if op == "Update":
                problem = self._preorder_problem({**preorder, **body})
                if problem:
                    return json_response({"error": problem}, 400)
                self.preorders[preorder["id"]] = self._preorder(preorder["id"], {**preorder, **body})
                return json_response(True)
            if op == "Cancel":
                preorder["status"] = "cancelled"
                preorder["modified"] = self._iso(self._now())
                return json_response(True)
        return json_response({"error": f"unknown operation {op}"}, 404)

    def _preorder_problem(self, body: dict[str, Any]) -> str:
        if int(body.get("clientId") or 0) not in self.clients:
            return "clientId: client not found"
        lines = body.get("lines")
        if not isinstance(lines, list) or not lines:
            return "lines are required"
        goods = {g["id"] for g in self.good_types}
        for line in lines:
            if not isinstance(line, dict) or line.get("goodTypeId") not in goods:
                return f"unknown goodTypeId in {line!r}"
        return ""

    def _preorder(self, pre_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": pre_id, "clientId": int(body["clientId"]), "date": body.get("date"),
                "comment": body.get("comment", ""), "externalId": body.get("externalId"),
                "status": body.get("status", "new"),
                "lines": [{"goodTypeId": ln["goodTypeId"], "count": ln.get("count", 1), "price": ln.get("price", 0)}
                          for ln in body["lines"]],
                "modified": self._iso(self._now())}


def demo_loop(app: LimeEmulator, every: float) -> None:
    """A steady trickle of activity so an operator can watch data flow into the hub."""
    while True:
        time.sleep(every)
        with app.lock:
            app.generate(clients=1 if app.rng.random() < 0.3 else 0, checks=1, passes=app.rng.randint(1, 3))


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--clients", type=int, default=300)
        parser.add_argument("--checks", type=int, default=None)
        parser.add_argument("--passes", type=int, default=None)
        parser.add_argument("--username", default="api@venue.example")
        parser.add_argument("--password", default=None)
        parser.add_argument("--demo", type=float, default=0, help="produce activity every N seconds")

    def factory(args: argparse.Namespace) -> LimeEmulator:
        app = LimeEmulator(clients=args.clients, checks=args.checks, passes=args.passes, rate_limit=args.rate_limit,
                           username=args.username, password=args.password)
        if args.demo:
            threading.Thread(target=demo_loop, args=(app, args.demo), daemon=True).start()
        return app

    run_cli(factory, "Lime emulator", add_arguments)


if __name__ == "__main__":
    main()
