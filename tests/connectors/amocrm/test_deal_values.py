"""amoCRM deal field values ⇄ text: what ``deal_from_amo`` makes of each value shape amoCRM
answers, and how ``field_values`` are written (ids as numbers, "" as null, never dropped)."""

from decimal import Decimal

import pytest

from connectors.amocrm.mapping import deal_field_values, deal_from_amo, deal_to_amo
from connectors.crm.port import CrmDeal


def _fields(*custom_fields):
    return deal_from_amo({"id": 9, "name": "Сделка", "custom_fields_values": list(custom_fields)})["fields"]


def test_plain_text_stays_as_it_is():
    assert _fields({"field_id": 1, "values": [{"value": "Иван Петров"}]}) == {"1": "Иван Петров"}
    assert _fields({"field_id": 1, "values": [{"value": ""}]}) == {"1": ""}


def test_date_and_date_time_fields_keep_their_unix_seconds_as_digits():
    fields = _fields({"field_id": 1, "field_type": "date", "values": [{"value": 1764892800}]},
                     {"field_id": 2, "field_type": "date_time", "values": [{"value": 1764950400}]})
    assert fields == {"1": "1764892800", "2": "1764950400"}


def test_a_multi_value_field_gives_its_first_value():
    fields = _fields({"field_id": 1, "values": [{"value": "Взрослый", "enum_id": 11}, {"value": "Детский"}]},
                     {"field_id": 2, "field_code": "PHONE", "values": [{"value": "+79160000001", "enum_code": "MOB"},
                                                                      {"value": "+79160000002"}]})
    assert fields == {"1": "Взрослый", "2": "+79160000001"}


def test_checkboxes_numbers_and_files():
    fields = _fields({"field_id": 1, "values": [{"value": True}]}, {"field_id": 2, "values": [{"value": False}]},
                     {"field_id": 3, "values": [{"value": 2.0}]}, {"field_id": 4, "values": [{"value": 2.5}]},
                     {"field_id": 5, "values": [{"value": 42}]},
                     {"field_id": 6, "values": [{"value": {"file_uuid": "u", "file_name": "poster.png"}}]})
    assert fields == {"1": "1", "2": "0", "3": "2", "4": "2.5", "5": "42", "6": "poster.png"}


def test_fields_without_a_value_are_left_out():
    fields = _fields({"field_id": 1, "values": []}, {"field_id": 2, "values": None},
                     {"field_id": 3, "values": [{"value": None}]}, {"field_id": 4, "values": [{"enum_id": 5}]},
                     {"field_id": 5, "values": [{"value": {"file_uuid": "u"}}]})
    assert fields == {}
    assert deal_from_amo({"id": 9, "custom_fields_values": None})["fields"] == {}


def test_field_values_are_written_by_their_id_and_empty_clears():
    assert deal_field_values({"101": "a", "102": ""}) == [{"field_id": 101, "values": [{"value": "a"}]},
                                                        {"field_id": 102, "values": None}]
    assert deal_field_values({"101": "a", "102": ""}, create=True) == [{"field_id": 101, "values": [{"value": "a"}]}]
    with pytest.raises(ValueError):
        deal_field_values({"TITLE": "x"})


def test_a_deal_body_carries_role_fields_and_field_values_the_latter_winning():
    deal = CrmDeal(title="Сделка", pipeline_id="3005", stage_id="30050", amount=Decimal("10"),
                   fields={"note": "по роли", "other": "x"}, field_values={"101": "своё", "103": ""})
    created = deal_to_amo(deal, {"note": "101", "other": "102"})
    assert sorted(created["custom_fields_values"], key=lambda f: f["field_id"]) == [
        {"field_id": 101, "values": [{"value": "своё"}]}, {"field_id": 102, "values": [{"value": "x"}]}]
    updated = deal_to_amo(deal, {"note": "101", "other": "102"}, external_id="900001")
    assert {"field_id": 103, "values": None} in updated["custom_fields_values"] and updated["id"] == 900001
    assert "status_id" not in updated
