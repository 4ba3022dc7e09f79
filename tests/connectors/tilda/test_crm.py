"""What managers see in each CRM (amoCRM and Bitrix24 emulators) after a Tilda submission: a
lead as a deal in the request pipeline, "contact a manager" as a to-do, a cart as a deal with
its products."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hub.models import ClientRequest, ExternalRef, Outbox, Purchase
from tests.connectors.tilda.conftest import CALLBACK_FORM, CART, lead, submit
from tests.helpers import drain_outbox

pytestmark = pytest.mark.django_db

REQUEST_ROUTE = {"amocrm": {"pipeline_id": 3001, "stage_id": 30011},
                 "bitrix24": {"pipeline_id": 3, "stage_id": "C3:NEW"}}


@pytest.fixture
def routed(crm):
    crm.connection.settings["routes"]["request"] = REQUEST_ROUTE[crm.system]
    crm.connection.save()
    return crm


@pytest.fixture
def processed(django_capture_on_commit_callbacks):
    def post(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            answer = submit(*args, **kwargs)
        assert (answer.status_code, answer.content) == (200, b"ok")
    return post


def test_a_lead_is_a_deal_in_the_request_pipeline_with_the_form_as_its_note(tilda, routed, processed):
    processed(tilda, lead())
    request = ClientRequest.objects.get()
    assert Outbox.objects.filter(action="request.created", target_id=request.pk, connection=routed.connection)
    drain_outbox()
    ref = ExternalRef.objects.get(connection=routed.connection, kind="client_request", local_id=request.pk)
    deal = routed.port.get_deal(ref.external_id)
    route = REQUEST_ROUTE[routed.system]
    assert (deal["pipeline_id"], deal["stage_id"]) == (str(route["pipeline_id"]), str(route["stage_id"]))
    assert deal["contact_id"] == routed.their_id(request.contact)
    assert any("Comments: Хотим день рождения на 10 детей" in note for note in routed.notes())
    processed(tilda, lead())  # Tilda's retry of the same submission
    drain_outbox()
    assert ExternalRef.objects.filter(connection=routed.connection, kind="client_request").count() == 1


def test_contact_a_manager_is_a_task_on_the_clients_card(tilda, crm, processed):
    processed(tilda, lead(formid=CALLBACK_FORM, formname="Связаться с менеджером", Comments="Перезвоните вечером"))
    request = ClientRequest.objects.get()
    assert Outbox.objects.filter(action="request.created", target_id=request.pk, connection=crm.connection)
    drain_outbox()
    tasks = crm.tasks()
    assert len(tasks) == 1 and tasks[0]["entity"] == "contact"
    assert tasks[0]["external_id"] == str(crm.their_id(request.contact))
    assert "Связаться с менеджером" in tasks[0]["text"] and "Перезвоните вечером" in tasks[0]["text"]


def test_an_order_is_a_deal_with_its_products(tilda, crm, processed):
    crm.connection.settings["purchase_deal_per"] = "receipt"
    crm.connection.save()
    processed(tilda, lead("1234567:3001"), CART, encoding="payment-flat")
    purchase = Purchase.objects.get()
    drain_outbox()
    ref = ExternalRef.objects.get(connection=crm.connection, kind="purchase", local_id=purchase.pk)
    deal = crm.port.get_deal(ref.external_id)
    route = crm.connection.settings["routes"]["purchase"]
    assert (deal["pipeline_id"], Decimal(deal["amount"])) == (str(route["pipeline_id"]), Decimal("1700"))
    assert deal["contact_id"] == crm.their_id(purchase.contact)
    if crm.system == "amocrm":
        linked = [link["to_entity_id"] for link in crm.app.links if link["lead_id"] == int(ref.external_id)]
        names = sorted(crm.app.catalog_elements[i]["name"] for i in linked)
    else:
        names = sorted(row["PRODUCT_NAME"] for row in crm.app.product_rows[int(ref.external_id)])
    assert names == ["Взрослый билет", "Детский билет (Возраст: 3–7 лет)"]
