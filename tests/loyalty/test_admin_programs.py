"""An operator and a manager with an external program, in the admin: the grant form queues a
request and shows where to follow it, refused requests can be sent again, and a
reconciliation can be run by hand."""

from decimal import Decimal

import pytest
from django.urls import reverse

from hub.models import Contact, Outbox
from loyalty.models import Account, ProgramRequest, Reconciliation
from loyalty.selectors import balance_for
from tests.bonus_programs import bonus_side
from tests.helpers import drain_outbox

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = "+79161234567"


@pytest.fixture
def samosale(db):
    with bonus_side("samosale") as side:
        yield side


def test_the_grant_form_queues_the_grant_and_a_refused_one_can_be_sent_again(samosale, admin_client):
    anna = Contact.objects.create(first_name="Анна", phone=PHONE)
    samosale.join(PHONE, 0)
    answer = admin_client.post(reverse("admin:loyalty_grant"), {"contact": anna.pk, "points": "-30",
                                                                "reason": "Списание", "key": "k1"})
    request = ProgramRequest.objects.get()
    assert answer.status_code == 302 and answer.url == reverse("admin:loyalty_programrequest_change",
                                                               args=[request.pk])
    drain_outbox()
    request.refresh_from_db()
    assert request.status == "refused"  # nothing to deduct yet
    page = admin_client.get(reverse("admin:loyalty_programrequest_changelist"))
    assert "В SamoSale недостаточно бонусов" in page.content.decode()
    samosale.operate(PHONE, 100)
    admin_client.post(reverse("admin:loyalty_programrequest_changelist"),
                      {"action": "send_again", "_selected_action": [request.pk]})
    drain_outbox()
    request.refresh_from_db()
    assert request.status == "done" and samosale.balance(PHONE) == Decimal(70)
    assert Outbox.objects.get(action="bonus.request").status == "sent"


def test_reconcile_now_from_the_program_list(samosale, admin_client):
    anna = Contact.objects.create(first_name="Анна", phone=PHONE)
    samosale.join(PHONE, 0)
    admin_client.post(reverse("admin:loyalty_grant"), {"contact": anna.pk, "points": "10", "reason": "r",
                                                       "key": "k2"})
    drain_outbox()
    samosale.operate(PHONE, 15)
    answer = admin_client.post(reverse("admin:loyalty_program_changelist"),
                               {"action": "reconcile_now", "_selected_action": [samosale.program.pk]}, follow=True)
    assert "проверено 1, исправлено 0, не проверено 0" in answer.content.decode()
    assert Reconciliation.objects.get().operations == 1
    assert Account.objects.get(contact=anna).balance == Decimal(25) == balance_for(anna).total
    assert admin_client.get(reverse("admin:loyalty_reconciliation_changelist")).status_code == 200
