"""Emulator-backed connections shared by the connector tests."""

import datetime as dt

import pytest
import requests

from connectors.amocrm.emulator import AmoCRMEmulator
from connectors.base.emulator import RunningEmulator
from connectors.bitrix24.emulator import Bitrix24Emulator
from connectors.lime.emulator import LimeEmulator
from hub.models import ExternalRef
from hub.services.connections import connection_upsert
from hub.sync import registry


@pytest.fixture
def lime_emulator():
    with RunningEmulator(LimeEmulator(clients=40, password="secret-pw")) as running:
        yield running


@pytest.fixture
def lime(lime_emulator, db):
    creds = lime_emulator.app.state()["credentials"]
    connection, _ = connection_upsert(
        name="Лайм", system="lime", base_url=lime_emulator.url,
        credentials={"username": creds["username"], "password": creds["password"]},
        settings={"installation_id": 1, "cashdesk_id": 1, "rate_limit": "1000/second", "max_attempts": 3},
    )
    return connection

@pytest.fixture
def amo_emulator():
    with RunningEmulator(AmoCRMEmulator()) as running:
        yield running


@pytest.fixture
def amo(amo_emulator, db):
    creds = amo_emulator.app.state()["credentials"]
    connection, _ = connection_upsert(
        name="amoCRM", system="amocrm", base_url=amo_emulator.url,
        credentials={k: creds[k] for k in ("client_id", "client_secret", "redirect_uri", "authorization_code")},
        settings={"subdomain": "demo", "max_attempts": 3,
                  "routes": {"purchase": {"pipeline_id": 3002, "stage_id": 30020},
                             "pass": {"pipeline_id": 3003, "stage_id": 30030},
                             "preorder": {"pipeline_id": 3004, "stage_id": 30040}}},
    )
    return connection

@pytest.fixture
def b24_emulator():
    with RunningEmulator(Bitrix24Emulator()) as running:
        yield running


@pytest.fixture
def b24(b24_emulator, db):
    creds = b24_emulator.app.state()["credentials"]
    connection, _ = connection_upsert(
        name="Битрикс24", system="bitrix24", base_url=b24_emulator.url,
        credentials={"webhook_url": b24_emulator.url + creds["webhook_url"],
                     "application_token": creds["application_token"]},
        # The emulator's bucket holds 50, as Bitrix24's does: tests need not pace at production's 2/s.
        settings={"max_attempts": 3, "rate_limit": "20/second",
                  "routes": {"purchase": {"pipeline_id": 1, "stage_id": "C1:NEW"},
                             "pass": {"pipeline_id": 2, "stage_id": "C2:NEW"},
                             "preorder": {"pipeline_id": 3, "stage_id": "C3:NEW"}}},
    )
    return connection



class Crm:
    """One CRM's connection and emulator, with the few reads the tests need in its own terms."""

    def __init__(self, system, connection, emulator):
        self.system, self.connection, self.emulator = system, connection, emulator
        self.app = emulator.app

    @property
    def port(self):
        self.connection.refresh_from_db()
        return registry.get(self.system).adapter(self.connection)

    def their_id(self, contact):
        return ExternalRef.objects.get(connection=self.connection, kind="contact", local_id=contact.pk).external_id

    def contact(self, external_id):
        return self.port.get_contact(external_id)

    def card_text(self, external_id, field_id):
        if self.system == "amocrm":
            row = self.app.contacts[int(external_id)]
            return next((f["values"][0]["value"] for f in row["custom_fields_values"]
                         if f.get("field_id") == int(field_id)), None)
        return self.app.contacts[int(external_id)].get(field_id)

    def add_contact_field(self, name):
        return self.port.create_field("contact", name, code=name).id

    def add_deal_field(self, name, code):
        return self.port.create_field("deal", name, code=code).id

    def notes(self):
        """Texts of the notes / timeline comments written into deals."""
        if self.system == "amocrm":
            return [n["params"]["text"] for n in self.app.notes if n["entity"] == "leads"]
        return [c["COMMENT"] for c in self.app.comments if c.get("ENTITY_TYPE") == "deal"]

    def tasks(self):
        """The managers' to-dos in the CRM, neutral: entity, external_id, text, deadline (aware),
        responsible_id."""
        state = self.app.state()
        if self.system == "amocrm":
            return [{"entity": {"contacts": "contact", "leads": "deal"}.get(t["entity_type"], t["entity_type"]),
                     "external_id": str(t["entity_id"]), "text": t["text"],
                     "deadline": dt.datetime.fromtimestamp(t["complete_till"], dt.UTC),
                     "responsible_id": str(t["responsible_user_id"])} for t in state["tasks"]]
        return [{"entity": {"3": "contact", "2": "deal"}.get(a["OWNER_TYPE_ID"], a["OWNER_TYPE_ID"]),
                 "external_id": a["OWNER_ID"], "text": a["DESCRIPTION"],
                 "deadline": dt.datetime.fromisoformat(a["DEADLINE"]), "responsible_id": a["RESPONSIBLE_ID"]}
                for a in state["activities"] if a.get("PROVIDER_ID") == "CRM_TODO"]

    def reassign(self, entity, external_id, user_id):
        """A manager hands a contact or deal over to another manager in the CRM UI."""
        with self.app.lock:
            if self.system == "amocrm":
                store = self.app.contacts if entity == "contact" else self.app.leads
                store[int(external_id)]["responsible_user_id"] = int(user_id)
            else:
                store = self.app.contacts if entity == "contact" else self.app.deals
                store[int(external_id)]["ASSIGNED_BY_ID"] = str(user_id)

    def manager_renames(self, external_id, first_name, notify):
        """A manager's edit in the CRM UI (with ``notify=False`` its webhook is still on its way)."""
        if self.system == "amocrm":
            with self.app.lock:
                row = self.app.contacts[int(external_id)]
                row.update(first_name=first_name, name=f"{first_name} {row.get('last_name', '')}".strip())
                if notify:
                    self.app._webhook("contacts", "update", row)
        else:
            with self.app.lock:
                self.app.contacts[int(external_id)]["NAME"] = first_name
                if notify:
                    self.app._event("ONCRMCONTACTUPDATE", int(external_id))

    def move_deal(self, external_id, pipeline_id, stage_id, fields=None):
        """A manager drags the deal to another stage, with ``fields`` (their id → text) filled in."""
        fields = fields or {}
        if self.system == "amocrm":
            spec = {"id": int(external_id), "status_id": int(stage_id), "pipeline_id": int(pipeline_id)}
            if fields:
                spec["custom_fields_values"] = [{"field_id": int(f), "values": [{"value": v}]}
                                                for f, v in fields.items()]
        else:
            spec = {"ID": int(external_id), "STAGE_ID": stage_id, **fields}
        requests.post(f"{self.emulator.url}/_emulator/faults", json={"move_deal": spec}, timeout=5)
        self.app.wait_deliveries()

    def hook_to(self, live_server):
        key = "webhook_url" if self.system == "amocrm" else "handler_url"
        requests.post(f"{self.emulator.url}/_emulator/faults",
                      json={key: f"{live_server.url}{self.connection.webhook_path}"}, timeout=5)


@pytest.fixture(params=["amocrm", "bitrix24"])
def crm(request):
    """Each test using it runs once against amoCRM and once against Bitrix24."""
    if request.param == "amocrm":
        connection = request.getfixturevalue("amo")
        connection.settings["catalog_id"] = "5001"
        connection.save()
        return Crm("amocrm", connection, request.getfixturevalue("amo_emulator"))
    return Crm("bitrix24", request.getfixturevalue("b24"), request.getfixturevalue("b24_emulator"))
