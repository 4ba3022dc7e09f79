import datetime as dt

import pytest
from django.utils import timezone

from hub.imports.contacts import ContactTable
from hub.imports.export import table_export
from hub.models import Card, Contact, ContactIdentity, Outbox, Tag
from hub.services.contacts import ContactData, card_upsert, contact_merge, contact_upsert
from tests.hub.imports.tables import csv_bytes, csv_rows, xlsx_bytes, xlsx_rows

pytestmark = pytest.mark.django_db

HEADER = ["Фамилия", "Имя", "Телефон", "E-mail", "Дата рождения", "Категория"]


def check(rows, name="clients.csv"):  # type: ignore[no-untyped-def]
    data = xlsx_bytes(rows) if name.endswith(".xlsx") else csv_bytes(rows)
    return ContactTable().check(name, data)


def apply(rows, name="clients.csv"):  # type: ignore[no-untyped-def]
    data = xlsx_bytes(rows) if name.endswith(".xlsx") else csv_bytes(rows)
    return ContactTable().apply(name, data)


def outcome(report):  # type: ignore[no-untyped-def]
    return [(r.row, r.status, r.errors) for r in report.rows]


def counts() -> dict[str, int]:
    return {"contacts": Contact.objects.count(), "identities": ContactIdentity.objects.count(),
            "outbox": Outbox.objects.count(), "tags": Tag.objects.count(), "cards": Card.objects.count(),
            "history": Contact.history.count()}


@pytest.mark.parametrize(("cells", "message"), [
    (["Иванова", "Анна", "12345", "", "", ""], "Телефон «12345» не распознан как номер телефона."),
    (["Иванова", "Анна", "", "anna@", "", ""], "E-mail «anna@» — некорректный адрес."),
    (["Иванова", "Анна", "89123456789", "", "31.02.1990", ""],
     "Дата рождения: «31.02.1990» — не дата (нужно ДД.ММ.ГГГГ или ГГГГ-ММ-ДД)."),
    (["Иванова", "Анна", "89123456789", "", "вчера", ""], "Дата рождения: «вчера» — не дата"),
    (["Иванова", "Анна", "89123456789", "", "01.01.2999", ""], "Дата рождения 01.01.2999 в будущем."),
    (["Иванова", "Анна", "89123456789", "", "", "пенсионер"],
     "Категория: неизвестное значение «пенсионер» (можно: Взрослый, Ребёнок)."),
    (["Иванова", "Анна", "", "", "", ""], "Нужен телефон, e-mail или мессенджер (или ID существующего контакта)"),
    (["И" * 151, "Анна", "89123456789", "", "", ""], "Фамилия: длиннее 150 символов."),
], ids=["phone", "email", "impossible-date", "not-a-date", "future-date", "category", "no-key", "too-long"])
def test_each_bad_value_is_an_error_with_its_reason(cells, message):
    report = check([HEADER, cells])
    assert [r.status for r in report.rows] == ["error"]
    assert any(message in error for error in report.rows[0].errors), report.rows[0].errors


def test_all_errors_of_a_row_are_listed_together():
    report = check([HEADER, ["Иванова", "Анна", "12345", "anna@", "вчера", "x"]])
    assert len(report.rows[0].errors) == 4


def test_a_row_repeating_an_earlier_one_is_an_error_naming_it():
    report = check([HEADER, ["Иванова", "Анна", "+79123456789", "", "", ""],
                    ["Иванова", "Анюта", "8 (912) 345-67-89", "", "", ""],
                    ["Петров", "Пётр", "", "anna@example.ru", "", ""],
                    ["Петров", "Пётр", "", "ANNA@example.ru ", "", ""]])
    assert outcome(report) == [
        (2, "created", []), (3, "error", ["Повтор строки 2: тот же контакт (телефон, e-mail или ID)."]),
        (4, "created", []), (5, "error", ["Повтор строки 4: тот же контакт (телефон, e-mail или ID)."])]


def test_unknown_id_and_an_id_whose_phone_is_someone_elses_are_errors():
    anna, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    petr, _ = contact_upsert(ContactData(first_name="Пётр", phones=["+79130000001"]))
    report = check([["ID", "Имя", "Телефон"], [999999, "Анна", ""], [petr.pk, "Пётр", "89123456789"]])
    assert outcome(report) == [
        (2, "error", ["Контакт с ID 999999 не найден."]),
        (3, "error", [f"Телефоны: «+79123456789» уже у контакта #{anna.pk}, а в строке ID {petr.pk}. "
                      "Исправьте строку или объедините контакты в админке."])]


def test_a_card_held_by_another_contact_is_an_error():
    anna, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    card_upsert("C-1", anna)
    report = check([["Телефон", "Карты"], ["89130000001", "C-1"]])
    assert report.rows[0].errors == [f"Карта C-1 уже у контакта #{anna.pk}."]


def test_phone_in_another_format_finds_the_existing_contact(webhook_connection):
    anna, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    Outbox.objects.all().delete()
    report = apply([["Телефон", "Фамилия"], ["8 912 345-67-89", "Иванова"]])
    assert outcome(report) == [(2, "updated", [])]
    assert report.rows[0].target == anna.pk and report.rows[0].changes == ["фамилия"]
    anna.refresh_from_db()
    assert (Contact.objects.count(), anna.last_name, anna.first_name) == (1, "Иванова", "Анна")
    # the change goes to the CRMs like any other: through contact_upsert's Outbox row
    queued = Outbox.objects.get(action="contact.upsert", target_id=anna.pk)
    assert queued.payload["last_name"] == "Иванова"


def test_a_row_matching_two_contacts_without_an_id_merges_them_as_everywhere_in_the_hub():
    anna, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    twin, _ = contact_upsert(ContactData(first_name="Аня", emails=["anna@example.ru"]))
    report = apply([["Телефон", "E-mail"], ["89123456789", "anna@example.ru"]])
    assert report.rows[0].changes[0] == f"объединение контактов #{anna.pk}, #{twin.pk}"
    twin.refresh_from_db()
    assert twin.merged_into_id == anna.pk


def test_dates_as_real_excel_dates_as_day_numbers_and_as_text():
    rows = [["Телефон", "Дата рождения"], ["89123456780", dt.datetime(1990, 5, 1)], ["89123456781", "01.05.1990"],
            ["89123456782", "1990-05-01"], ["89123456783", 32994], ["89123456784", "1.5.1990"],
            ["89123456785", "01/05/1990"]]
    report = apply(rows, "clients.xlsx")
    assert [r.status for r in report.rows] == ["created"] * 6
    assert set(Contact.objects.values_list("birth_date", flat=True)) == {dt.date(1990, 5, 1)}


def test_phones_typed_as_numbers_in_excel_are_read_as_phones():
    apply([["Телефон"], [79123456789], [89130000001.0]], "clients.xlsx")
    assert set(Contact.objects.values_list("phone", flat=True)) == {"+79123456789", "+79130000001"}


def test_category_by_russian_or_english_label_or_code():
    apply([["Телефон", "Категория"], ["89123456780", "ребенок"], ["89123456781", "Child"], ["89123456782", "child"],
           ["89123456783", "Взрослый"]])
    assert sorted(Contact.objects.values_list("category", flat=True)) == ["adult", "child", "child", "child"]


def test_the_check_writes_nothing(webhook_connection):
    contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    before = counts()
    report = check([[*HEADER, "Теги", "Карты"], ["Иванова", "Анна", "89123456789", "a@example.ru", "", "", "VIP", "C1"],
                    ["Петров", "Пётр", "89130000001", "", "01.05.1990", "", "new", "C2"]])
    assert [r.status for r in report.rows] == ["updated", "created"]
    assert counts() == before


def test_apply_writes_only_the_valid_rows_and_a_second_apply_changes_nothing(webhook_connection):
    rows = [[*HEADER, "Теги", "Карты", "Другие телефоны", "Telegram"],
            ["Иванова", "Анна", "89123456789", "Anna@Example.ru", "01.05.1990", "", "VIP, школа", "C1",
             "89123456780", "100200300"],
            ["Петров", "Пётр", "12345", "", "", "", "", "", "", ""],
            ["Сидоров", "Иван", "", "ivan@example.ru", "", "Ребёнок", "", "", "", ""]]
    first = apply(rows)
    assert outcome(first) == [(2, "created", []), (3, "error", ["Телефон «12345» не распознан как номер телефона."]),
                              (4, "created", [])]
    assert first.totals == {"created": 2, "updated": 0, "unchanged": 0, "error": 1, "total": 3}
    anna = Contact.objects.get(phone="+79123456789")
    assert (anna.email, anna.birth_date, sorted(anna.tags.values_list("name", flat=True))) == (
        "anna@example.ru", dt.date(1990, 5, 1), ["VIP", "школа"])
    assert set(anna.identities.values_list("kind", "value")) == {
        ("phone", "+79123456789"), ("phone", "+79123456780"), ("email", "anna@example.ru"), ("telegram", "100200300")}
    assert list(anna.cards.values_list("code", flat=True)) == ["C1"]
    assert Contact.objects.get(email="ivan@example.ru").category == "child"
    assert Outbox.objects.filter(action="contact.upsert").count() == 2
    before = counts()
    second = apply(rows)
    assert [r.status for r in second.rows] == ["unchanged", "error", "unchanged"]
    assert counts() == before


def test_tags_are_matched_whatever_their_case_and_never_removed():
    anna, _ = contact_upsert(ContactData(phones=["+79123456789"]))
    anna.tags.add(Tag.objects.create(name="VIP"), Tag.objects.create(name="Old"))
    report = apply([["Телефон", "Теги"], ["89123456789", "vip"]])
    assert report.rows[0].status == "unchanged"
    assert sorted(anna.tags.values_list("name", flat=True)) == ["Old", "VIP"]


def make_people() -> list[Contact]:
    anna, _ = contact_upsert(ContactData(last_name="Иванова", first_name="Анна", middle_name="Сергеевна",
                                         phones=["+79123456789", "+79123456780"], emails=["anna@example.ru"],
                                         birth_date=dt.date(1990, 5, 1), messengers={"telegram": "100200300"}))
    anna.tags.add(Tag.objects.create(name="VIP"), Tag.objects.create(name="=formula"))
    card_upsert("C-1", anna)
    card_upsert("C-2", anna)
    kid, _ = contact_upsert(ContactData(first_name="Миша", category="child", emails=["misha@example.ru"],
                                        birth_date=dt.date(2015, 1, 31)))
    duplicate, _ = contact_upsert(ContactData(first_name="Дубль", phones=["+79130000009"]))
    contact_merge(anna, duplicate)
    return [anna, kid, duplicate]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(fmt, webhook_connection):
    anna, kid, _duplicate = make_people()
    content = table_export(ContactTable(), Contact.objects.all(), fmt).content
    before = counts()
    report = ContactTable().apply(f"export.{fmt}", content)
    assert [(r.status, r.target, r.errors) for r in report.rows] == [("unchanged", anna.pk, []),
                                                                      ("unchanged", kid.pk, [])]
    assert counts() == before


def test_export_has_russian_headers_and_never_the_merged_duplicates():
    anna, kid, _duplicate = make_people()
    rows = csv_rows(table_export(ContactTable(), Contact.objects.all(), "csv").content)
    assert rows[0][:9] == ["ID", "Фамилия", "Имя", "Отчество", "Телефон", "E-mail", "Дата рождения", "Категория",
                           "Теги"]
    assert [row[0] for row in rows[1:]] == [str(anna.pk), str(kid.pk)]
    assert rows[1][4:15] == ["'+79123456789", "anna@example.ru", "01.05.1990", "Взрослый", "'=formula, VIP",
                             "'+79123456780, +79130000009", "", "100200300", "", "", "C-1, C-2"]
    sheet = xlsx_rows(table_export(ContactTable(), Contact.objects.all(), "xlsx").content)
    assert sheet[2][:8] == (kid.pk, None, "Миша", None, None, "misha@example.ru", dt.datetime(2015, 1, 31), "Ребёнок")
    assert sheet[1][15].date() == timezone.localtime(anna.created_at).date()


@pytest.mark.parametrize("bad_id", ["²", "9" * 5000, "99999999999999999999999"])
def test_an_id_that_is_not_a_database_id_is_a_row_error_not_a_crash(bad_id):
    report = check([["ID", "Имя"], [bad_id, "Анна"]])
    assert report.rows[0].status == "error"
    assert report.rows[0].errors[0] == f"ID: «{bad_id[:40]}» — не номер."
