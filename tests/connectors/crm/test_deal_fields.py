"""Deal fields by the CRM's own ids, both CRMs over HTTP: written with a new deal and read back,
changed alone by ``set_deal_fields`` (title, stage, amount and contact stay), emptied by "", a
deal gone fails alone, many deals go in more than one request; the CRM announces the change; the
events feature's pipelines are listed with their stages."""

from decimal import Decimal

import pytest

from connectors.crm.port import CrmContact, CrmDeal
from hub.models import Inbox


def _bookings(crm, which=0):
    """The bookings pipeline and one of its stages (0 new, 1 booking requested)."""
    if crm.system == "amocrm":
        return "3004", ("30040", "30041")[which]
    return "3", ("C3:NEW", "C3:PREPARATION")[which]


def _fields(crm, count=2):
    return [crm.add_deal_field(f"Поле {n}", f"fld{n}") for n in range(count)]


def _deals(crm, titles, values=None, contact_id="", amount="100"):
    pipeline, stage = _bookings(crm)
    written = crm.port.upsert_deals([
        (str(n), CrmDeal(title=title, pipeline_id=pipeline, stage_id=stage, amount=Decimal(amount),
                         contact_external_id=contact_id, field_values=dict(values or {})), "")
        for n, title in enumerate(titles)])
    assert not written.errors
    return [written.ids[str(n)] for n in range(len(titles))]


def _delete_deal(crm, deal_id):
    """A manager deletes the deal in the CRM."""
    with crm.app.lock:
        (crm.app.leads if crm.system == "amocrm" else crm.app.deals).pop(int(deal_id))


def _requests(crm):
    return crm.app.state()["stats"]["requests"]


def test_a_new_deal_carries_its_field_values_and_reads_them_back(crm):
    when, speaker, empty = _fields(crm, 3)
    assert {when, speaker, empty} <= {f.id for f in crm.port.list_fields("deal")}
    [deal_id] = _deals(crm, ["Экскурсия по крышам"], {when: "2026-12-05 19:00", speaker: "Иван Петров", empty: ""})
    deal = crm.port.get_deal(deal_id)
    assert deal["title"] == "Экскурсия по крышам"
    assert deal["fields"][when] == "2026-12-05 19:00" and deal["fields"][speaker] == "Иван Петров"
    assert deal["fields"].get(empty, "") == ""


def test_field_values_win_over_a_role_field_naming_the_same_field(crm):
    [field] = _fields(crm, 1)
    crm.connection.refresh_from_db()
    crm.connection.settings["fields"] = {"note": field}
    crm.connection.save()
    pipeline, stage = _bookings(crm)
    written = crm.port.upsert_deals([("k", CrmDeal(title="Сделка", pipeline_id=pipeline, stage_id=stage,
                                                   fields={"note": "по роли"}, field_values={field: "своё"}), "")])
    assert crm.port.get_deal(written.ids["k"])["fields"][field] == "своё"


def test_set_deal_fields_changes_only_the_fields_named(crm):
    when, speaker = _fields(crm)
    written = crm.port.upsert_contacts([("c", CrmContact(first_name="Анна", phones=["+79160000001"]), "")])
    contact_id = written.ids["c"]
    first, second = _deals(crm, ["Первая", "Вторая"], {when: "05.12.2026", speaker: "Иван"},
                           contact_id=contact_id, amount="1500")
    crm.move_deal(second, *_bookings(crm, 1))  # the manager moved it meanwhile
    before = {d: crm.port.get_deal(d) for d in (first, second)}

    written = crm.port.set_deal_fields([("a", first, {when: "06.12.2026"}),
                                        ("b", second, {speaker: "Мария", when: ""})])

    assert written.ids == {"a": first, "b": second} and not written.errors
    after = {d: crm.port.get_deal(d) for d in (first, second)}
    assert after[first]["fields"][when] == "06.12.2026" and after[first]["fields"][speaker] == "Иван"
    assert after[second]["fields"][speaker] == "Мария" and after[second]["fields"].get(when, "") == ""
    for deal_id in (first, second):
        assert {k: v for k, v in after[deal_id].items() if k != "fields"} == \
               {k: v for k, v in before[deal_id].items() if k != "fields"}
    assert after[second]["stage_id"] == _bookings(crm, 1)[1] and after[first]["contact_id"] == contact_id
    assert Decimal(after[first]["amount"]) == 1500 and after[first]["title"] == "Первая"


def test_a_deal_gone_fails_alone(crm):
    [field] = _fields(crm, 1)
    kept, gone = _deals(crm, ["Остаётся", "Удалят"], {field: "было"})
    _delete_deal(crm, gone)

    written = crm.port.set_deal_fields([("gone", gone, {field: "x"}), ("kept", kept, {field: "стало"}),
                                        ("never", "987654", {field: "y"})])

    assert written.ids == {"kept": kept}
    assert set(written.errors) == {"gone", "never"}
    assert crm.port.get_deal(kept)["fields"][field] == "стало"


def test_a_value_for_a_deal_s_own_field_is_refused_not_written(crm):
    [field] = _fields(crm, 1)
    [deal_id] = _deals(crm, ["Название менеджера"])

    written = crm.port.set_deal_fields([("bad", deal_id, {"TITLE": "чужое"}), ("ok", deal_id, {field: "да"}),
                                        ("nothing", deal_id, {})])

    assert set(written.errors) == {"bad"} and written.ids == {"ok": deal_id, "nothing": deal_id}
    deal = crm.port.get_deal(deal_id)
    assert deal["title"] == "Название менеджера" and deal["fields"][field] == "да"


def test_sixty_deals_take_two_requests(crm):
    [field] = _fields(crm, 1)
    deal_ids = _deals(crm, [f"Сделка {n}" for n in range(60)])
    requests_before = _requests(crm)

    written = crm.port.set_deal_fields([(f"k{n}", deal_id, {field: f"v{n}"}) for n, deal_id in enumerate(deal_ids)])

    assert not written.errors and written.ids == {f"k{n}": deal_id for n, deal_id in enumerate(deal_ids)}
    assert _requests(crm) - requests_before == 2  # 50 + 10: the CRM's batch, not one request a deal
    assert crm.port.get_deal(deal_ids[59])["fields"][field] == "v59"
    assert crm.port.get_deal(deal_ids[0])["fields"][field] == "v0"


@pytest.mark.django_db(transaction=True)
def test_the_crm_announces_the_change_to_the_hub(crm, live_server):
    [field] = _fields(crm, 1)
    [deal_id] = _deals(crm, ["Сделка"])
    crm.hook_to(live_server)

    crm.port.set_deal_fields([("k", deal_id, {field: "новое"})])
    crm.app.wait_deliveries()

    assert Inbox.objects.filter(connection=crm.connection, kind="crm.deal.update", payload__id=deal_id).exists()


def test_the_events_pipelines_are_listed_with_their_stages(crm):
    pipelines = {p.id: p for p in crm.port.list_pipelines()}
    if crm.system == "amocrm":
        expected = {"3005": ("Идеи мероприятий", ["30050", "30051", "30052"]),
                    "3006": ("События", ["30060", "30061", "30062"]), "3007": ("Продажи билетов", ["30070"])}
        assert {"3001", "3002", "3003", "3004"} <= set(pipelines)
    else:
        expected = {"4": ("Есть идея", ["C4:NEW", "C4:PREPARATION", "C4:EXECUTING", "C4:WON", "C4:LOSE"]),
                    "5": ("События", ["C5:NEW", "C5:PREPARATION", "C5:EXECUTING", "C5:WON", "C5:LOSE"]),
                    "6": ("Продажи билетов", ["C6:NEW", "C6:WON", "C6:LOSE"])}
        assert {"0", "1", "2", "3"} <= set(pipelines)
    assert len(pipelines) == 7
    for pipeline_id, (name, stages) in expected.items():
        pipeline = pipelines[pipeline_id]
        assert pipeline.name == name
        assert [s.id for s in pipeline.stages][:len(stages)] == stages
        assert all(s.name for s in pipeline.stages)
    ideas = pipelines["3005" if crm.system == "amocrm" else "4"]
    assert [s.name for s in ideas.stages][:3] == ["Идея", "Обсуждение", "Анонс готов"]


def test_the_crms_users_are_read_by_name(crm):
    users = dict(crm.port.list_users())
    assert "Мария Смирнова" in users.values() and all(uid.isdigit() for uid in users)
