from decimal import Decimal

import pytest

from hub.imports.export import table_export
from hub.imports.products import ProductTable
from hub.models import Product, ProductCategory
from hub.services.catalog import category_get_or_create, product_upsert
from tests.hub.imports.tables import csv_bytes, csv_rows, xlsx_bytes, xlsx_rows

pytestmark = pytest.mark.django_db

HEADER = ["Артикул", "Название", "Тип", "Категория", "Цена", "Активен"]


def run(rows, *, apply=False, create_categories=False, name="goods.csv"):  # type: ignore[no-untyped-def]
    data = xlsx_bytes(rows) if name.endswith(".xlsx") else csv_bytes(rows)
    table = ProductTable(create_categories=create_categories)
    return table.apply(name, data) if apply else table.check(name, data)


def outcome(report):  # type: ignore[no-untyped-def]
    return [(r.row, r.status, r.errors) for r in report.rows]


def make_catalog() -> list[Product]:
    kids = category_get_or_create(["Билеты", "Детские"])
    return [product_upsert(name="Детский билет", sku="T-1", base_price="500", category=kids),
            product_upsert(name="Пополнение", kind=Product.Kind.DEPOSIT, base_price="1000.5", active=False),
            product_upsert(name="Носки", kind=Product.Kind.GOODS, sku="=SUM(1)", base_price=0)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(fmt):
    products = make_catalog()
    content = table_export(ProductTable(), Product.objects.all(), fmt).content
    before = list(Product.objects.order_by("pk").values())
    report = ProductTable().apply(f"goods.{fmt}", content)
    assert [(r.status, r.target) for r in report.rows] == [("unchanged", p.pk) for p in products]
    assert list(Product.objects.order_by("pk").values()) == before


def test_export_writes_the_category_path_and_russian_labels():
    first, deposit, socks = make_catalog()
    rows = csv_rows(table_export(ProductTable(), Product.objects.all(), "csv").content)
    assert rows[0] == ["ID", "Артикул", "Название", "Тип", "Категория", "Цена", "Активен"]
    assert rows[1:] == [[str(first.pk), "T-1", "Детский билет", "Билет", "Билеты / Детские", "500.00", "да"],
                        [str(deposit.pk), "", "Пополнение", "Пополнение депозита", "", "1000.50", "нет"],
                        [str(socks.pk), "'=SUM(1)", "Носки", "Товар", "", "0.00", "да"]]
    sheet = xlsx_rows(table_export(ProductTable(), Product.objects.all(), "xlsx").content)
    assert sheet[1] == (first.pk, "T-1", "Детский билет", "Билет", "Билеты / Детские", 500, "да")


def test_rows_find_products_by_id_then_sku_then_name_and_report_what_changes():
    first, deposit, socks = make_catalog()
    report = run([["ID", *HEADER], ["", "T-1", "", "", "", "600", ""], [socks.pk, "S-1", "", "", "", "", "нет"],
                  ["", "", "пополнение", "", "", "", "да"], ["", "N-1", "Новый", "услуга", "Билеты", "1 234,50", ""]],
                 apply=True)
    assert [(r.status, r.target, r.changes) for r in report.rows] == [
        ("updated", first.pk, ["цена"]), ("updated", socks.pk, ["артикул", "активен"]),
        ("updated", deposit.pk, ["название", "активен"]), ("created", report.rows[3].target, [])]
    first.refresh_from_db(), deposit.refresh_from_db(), socks.refresh_from_db()
    assert (first.base_price, first.name, socks.sku, socks.active, deposit.active, deposit.name) == (
        Decimal("600.00"), "Детский билет", "S-1", False, True, "пополнение")  # found in any case, renamed as written
    new = Product.objects.get(sku="N-1")
    assert (new.kind, new.base_price, new.category.name, new.active) == ("service", Decimal("1234.50"), "Билеты", True)


@pytest.mark.parametrize(("cells", "message"), [
    (["T-9", "Билет", "абонемент", "", "", ""],
     "Тип: неизвестное значение «абонемент» (можно: Билет, Пополнение депозита, Услуга, Товар)."),
    (["T-9", "Билет", "", "", "сто", ""], "Цена: «сто» — не число."),
    (["T-9", "Билет", "", "", "-5", ""], "Цена: не может быть отрицательной."),
    (["T-9", "Билет", "", "", "", "может быть"], "Активен: «может быть» — нужно «да» или «нет»."),
    (["T-9", "Билет", "", "Нет / Такой", "", ""], "Категория «Нет / Такой» не найдена."),
    (["T-9", "", "", "", "", ""], "Для нового товара нужно название."),
    (["", "", "", "", "100", ""], "Нужно название, артикул или ID товара."),
], ids=["kind", "price", "negative", "bool", "category", "no-name", "nothing"])
def test_each_bad_value_is_an_error_with_its_reason(cells, message):
    report = run([HEADER, cells])
    assert report.rows[0].status == "error"
    assert any(message in error for error in report.rows[0].errors), report.rows[0].errors


def test_ambiguous_or_taken_keys_and_repeated_rows_are_errors():
    first, deposit, _socks = make_catalog()
    product_upsert(name="Копия", sku="T-2")
    Product.objects.create(name="Копия 2", sku="T-2")
    report = run([["ID", *HEADER], [deposit.pk, "T-1", "", "", "", "", ""], ["", "T-2", "", "", "", "", ""],
                  ["", "T-1", "", "", "", "1", ""], ["", "T-1", "", "", "", "2", ""],
                  [9999999, "", "", "", "", "", ""]])
    copies = list(Product.objects.filter(sku="T-2").order_by("pk").values_list("pk", flat=True))
    assert outcome(report) == [
        (2, "error", [f"Артикул «T-1» уже у товара #{first.pk}."]),
        (3, "error", [f"Артикул «T-2» у нескольких товаров (#{copies[0]}, #{copies[1]}): укажите ID."]),
        (4, "updated", []), (5, "error", ["Повтор строки 4: тот же товар (ID, артикул или название)."]),
        (6, "error", ["Товар с ID 9999999 не найден."])]


def test_missing_categories_are_made_only_when_asked_and_a_second_apply_changes_nothing():
    rows = [["Название", "Категория", "Цена"], ["Батут", "Аттракционы / Батуты", 300],
            ["Горка", "аттракционы / Горки", 200.5]]
    assert [r.status for r in run(rows, apply=True, name="goods.xlsx").rows] == ["error", "error"]
    assert not ProductCategory.objects.exists() and not Product.objects.exists()
    report = run(rows, apply=True, create_categories=True, name="goods.xlsx")
    assert [(r.status, r.changes) for r in report.rows] == [
        ("created", ["новая категория «Аттракционы / Батуты»"]), ("created", ["новая категория «аттракционы / Горки»"])]
    assert sorted(ProductCategory.objects.values_list("name", flat=True)) == ["Аттракционы", "Батуты", "Горки"]
    assert Product.objects.get(name="Горка").base_price == Decimal("200.50")
    second = run(rows, apply=True, create_categories=True, name="goods.xlsx")
    assert [r.status for r in second.rows] == ["unchanged", "unchanged"]
    assert Product.objects.count() == 2 and ProductCategory.objects.count() == 3


def test_the_check_writes_nothing():
    make_catalog()
    before = (list(Product.objects.values()), list(ProductCategory.objects.values()))
    report = run([HEADER, ["T-1", "Другое имя", "", "Новая", "1", "нет"], ["X-1", "Новый", "", "Новая", "", ""]],
                 create_categories=True)
    assert [r.status for r in report.rows] == ["updated", "created"]
    assert (list(Product.objects.values()), list(ProductCategory.objects.values())) == before


@pytest.mark.parametrize("bad_id", ["²", "9" * 5000, "99999999999999999999999"])
def test_an_id_that_is_not_a_database_id_is_a_row_error_not_a_crash(bad_id):
    report = run([["ID", "Название"], [bad_id, "Билет"]])
    assert report.rows[0].status == "error"
    assert any("не номер" in error for error in report.rows[0].errors)
