"""Webhook bodies in the shapes the contract records from real captures (crm.md)."""

from urllib.parse import parse_qsl

import pytest

from connectors.amocrm.mapping import events_from_form
from connectors.bitrix24.mapping import event_from_form

AMO_STATUS_MINIMAL = ("leads[status][0][id]=9982719&leads[status][0][status_id]=142&leads[status][0][pipeline_id]=3004"
                      "&leads[status][0][old_status_id]=30041&leads[status][0][old_pipeline_id]=3004"
                      "&account[subdomain]=demo&account[id]=30000001")
AMO_CONTACT_WITH_EXTRAS = (
    "contacts[update][0][id]=700001&contacts[update][0][name]=%D0%90%D0%BD%D0%BD%D0%B0+%2B+%3F%2F"
    "&contacts[update][0][custom_fields][0][id]=101&contacts[update][0][custom_fields][0][code]=PHONE"
    "&contacts[update][0][custom_fields][0][values][0][value]=%2B79120000000"
    "&contacts[update][0][custom_fields][0][values][0][enum]=MOB"
    "&contacts[update][0][custom_fields][1][id]=555&contacts[update][0][custom_fields][1][values][0]=1717200000"
    "&contacts[update][0][linked_leads_id][9982719][ID]=9982719&contacts[update][0][price]="
    "&contacts[update][0][date_create]=1717000000&contacts[update][0][created_at]=1717000000"
    "&account[subdomain]=demo&account[id]=30000001&account[_links][self]=https://demo.amocrm.ru")
AMO_COMPANY = "contacts[add][0][id]=5&contacts[add][0][type]=company&account[subdomain]=demo"
AMO_DELETE = "contacts[delete][0][id]=700002&contacts[delete][0][type]=contact&account[subdomain]=demo"


def _form(body: str) -> dict[str, str]:
    return dict(parse_qsl(body, keep_blank_values=True))


def test_amocrm_minimal_status_hook_is_a_stage_event():
    [event] = events_from_form(_form(AMO_STATUS_MINIMAL))
    assert (event.entity, event.action, event.external_id) == ("deal", "stage", "9982719")
    assert event.data["old_status_id"] == "30041" and event.data["status_id"] == "142"


def test_amocrm_contact_with_dates_linked_leads_and_odd_names_parses_by_key():
    [event] = events_from_form(_form(AMO_CONTACT_WITH_EXTRAS))
    assert (event.entity, event.action, event.external_id) == ("contact", "update", "700001")
    assert event.data["name"] == "Анна + ?/"


def test_amocrm_companies_are_not_contacts_and_deletes_carry_only_the_id():
    assert events_from_form(_form(AMO_COMPANY)) == []
    [event] = events_from_form(_form(AMO_DELETE))
    assert (event.entity, event.action, event.external_id) == ("contact", "delete", "700002")


@pytest.mark.parametrize(("event", "expected"), [
    ("ONCRMDEALMOVETOCATEGORY", ("deal", "stage")),
    ("ONCRMCONTACTDELETE", ("contact", "delete")),
    ("ONCRMDEALUPDATE", ("deal", "update")),
])
def test_bitrix24_events_from_portal_webhooks_and_apps(event, expected):
    form = {"event": event, "data[FIELDS][ID]": "77", "data[FIELDS][CATEGORY_ID]": "1",
            "data[FIELDS][STAGE_ID]": "C1:NEW", "ts": "1717000000", "auth[domain]": "demo.bitrix24.ru",
            "auth[application_token]": "t", "event_handler_id": "15", "auth[access_token]": "x",
            "auth[expires_in]": "3600", "auth[scope]": "crm", "auth[status]": "L"}
    parsed = event_from_form(form)
    assert (parsed.entity, parsed.action, parsed.external_id) == (*expected, "77")
    assert "auth[access_token]" not in parsed.data  # credentials are not kept with the event


def test_bitrix24_lead_events_are_not_routed():
    assert event_from_form({"event": "ONCRMLEADADD", "data[FIELDS][ID]": "5"}) is None
