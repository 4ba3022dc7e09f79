"""Bitrix24 deal user field values ⇄ text: what ``deal_from_b24`` makes of each value shape
``crm.deal.get`` answers (lists, files, flags, null), how ``field_values`` are written (only
``UF_CRM_*``), and a file link read over HTTP made absolute on the portal's address."""

from decimal import Decimal

import pytest

from connectors.bitrix24.mapping import deal_field_values, deal_fields, deal_from_b24
from connectors.crm.port import CrmDeal
from hub.sync import registry

PORTAL = "https://demo.bitrix24.ru/"
FILE = {"id": 77, "showUrl": "/bitrix/components/bitrix/crm.deal.show/show_file.php?ownerId=1&fileId=77",
        "downloadUrl": "/bitrix/components/bitrix/crm.deal.show/show_file.php?ownerId=1&fileId=77&download=y"}


def _fields(**values):
    return deal_from_b24({"ID": "1", "TITLE": "Сделка", "CATEGORY_ID": "4", **values}, portal=PORTAL)["fields"]


def test_plain_strings_and_numbers_stay_as_they_are():
    assert _fields(UF_CRM_A="Иван", UF_CRM_B="", UF_CRM_C=5, UF_CRM_D="2026-12-05T19:00:00+03:00") == {
        "UF_CRM_A": "Иван", "UF_CRM_B": "", "UF_CRM_C": "5", "UF_CRM_D": "2026-12-05T19:00:00+03:00"}


def test_a_list_gives_its_first_item():
    assert _fields(UF_CRM_A=["первый", "второй"], UF_CRM_B=[3, 4], UF_CRM_C=[]) == {
        "UF_CRM_A": "первый", "UF_CRM_B": "3", "UF_CRM_C": ""}


def test_a_file_gives_its_download_link_on_the_portal():
    fields = _fields(UF_CRM_A=FILE, UF_CRM_B=[FILE], UF_CRM_C={**FILE, "downloadUrl": "https://cdn.example/p.png"},
                     UF_CRM_D={"id": 78, "showUrl": "/show.php?fileId=78"})
    assert fields["UF_CRM_A"] == "https://demo.bitrix24.ru" + FILE["downloadUrl"]
    assert fields["UF_CRM_B"] == fields["UF_CRM_A"]
    assert fields["UF_CRM_C"] == "https://cdn.example/p.png"
    assert fields["UF_CRM_D"] == "https://demo.bitrix24.ru/show.php?fileId=78"
    assert deal_from_b24({"UF_CRM_A": FILE})["fields"]["UF_CRM_A"] == FILE["downloadUrl"]  # no portal known


def test_flags_are_y_or_n_and_empty_or_unknown_values_are_left_out():
    assert _fields(UF_CRM_A=True, UF_CRM_B=False, UF_CRM_C=None, UF_CRM_D={"id": 1}, TITLE2=None) == {
        "UF_CRM_A": "Y", "UF_CRM_B": "N"}


def test_only_user_fields_are_read_and_written():
    assert set(_fields(UF_CRM_A="x", OPPORTUNITY="10", STAGE_ID="C4:NEW")) == {"UF_CRM_A"}
    assert deal_field_values({"UF_CRM_A": "x", "UF_CRM_B": ""}) == {"UF_CRM_A": "x", "UF_CRM_B": ""}
    with pytest.raises(ValueError):
        deal_field_values({"UF_CRM_A": "x", "STAGE_ID": "C4:WON"})


def test_a_deal_body_carries_role_fields_and_field_values_the_latter_winning():
    deal = CrmDeal(title="Сделка", pipeline_id="4", stage_id="C4:NEW", amount=Decimal("10"),
                   fields={"note": "по роли", "other": "x"}, field_values={"UF_CRM_NOTE": "своё", "UF_CRM_E": ""})
    fields = deal_fields(deal, {"note": "UF_CRM_NOTE", "other": "UF_CRM_OTHER"})
    assert (fields["UF_CRM_NOTE"], fields["UF_CRM_OTHER"], fields["UF_CRM_E"]) == ("своё", "x", "")
    assert fields["STAGE_ID"] == "C4:NEW" and "STAGE_ID" not in deal_fields(deal, {}, update=True)


def test_a_file_read_over_http_links_to_the_portal(b24, b24_emulator):
    """A picture a manager attached in the portal: its relative link comes back absolute."""
    port = registry.get("bitrix24").adapter(b24)
    field = port.create_field("deal", "Картинка", code="image")
    deal_id = port.upsert_deals([("k", CrmDeal(title="Анонс", pipeline_id="4", stage_id="C4:NEW"), "")]).ids["k"]
    with b24_emulator.app.lock:
        b24_emulator.app.deals[int(deal_id)][field.id] = FILE
    fields = port.get_deal(deal_id)["fields"]
    assert fields[field.id] == b24_emulator.url + FILE["downloadUrl"]


def test_a_file_link_loses_its_access_token():
    url = "/bitrix/components/bitrix/crm.deal.show/show_file.php?auth=secret-token&ownerId=1&fileId=77"
    text = deal_from_b24({"UF_CRM_A": {"id": 77, "downloadUrl": url}}, portal="https://demo.bitrix24.ru/")
    assert text["fields"]["UF_CRM_A"] == ("https://demo.bitrix24.ru/bitrix/components/bitrix/crm.deal.show/"
                                          "show_file.php?ownerId=1&fileId=77")
