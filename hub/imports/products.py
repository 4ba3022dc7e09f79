"""The products table. A row finds its product by ID, else by SKU, else (no SKU) by name;
new products are made by ``product_upsert``. ``product_upsert`` finds a product by external
ref or SKU only, so a row that names its product by ID (or changes its SKU) updates that
product's fields directly — products have no Outbox or other side effects to miss.

The category is a path "Parent / Child"; an unknown one is an error unless the operator
ticked "create missing categories". An empty cell changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from hub.imports.table import (
    CREATED,
    UNCHANGED,
    UPDATED,
    Column,
    Planned,
    Row,
    TableSpec,
    chunks,
    collect,
    is_row_id,
    label_choices,
    read_bool,
    read_choice,
    read_decimal,
    read_int,
    read_text,
)
from hub.models import Product, ProductCategory
from hub.services.catalog import category_get_or_create, product_upsert

SEPARATOR = " / "


def category_paths() -> dict[int, str]:
    """Every category's "Parent / Child" path, from one query."""
    rows = {pk: (name, parent) for pk, name, parent in ProductCategory.objects.values_list("pk", "name", "parent_id")}
    paths: dict[int, str] = {}

    def path(pk: int, depth: int = 0) -> str:
        if pk not in paths:
            name, parent = rows[pk]
            paths[pk] = (path(parent, depth + 1) + SEPARATOR + name) if parent in rows and depth < 50 else name
        return paths[pk]

    for pk in rows:
        path(pk)
    return paths


class ProductTable(TableSpec):
    key = "products"
    title = "товары"
    model = Product
    required_any = ("id", "sku", "name")
    columns = (
        Column("id", "ID", ("id товара",), width=8),
        Column("sku", "Артикул", ("арт", "артикул товара", "код товара", "код"), width=14),
        Column("name", "Название", ("наименование", "товар", "название товара"), width=36),
        Column("kind", "Тип", ("вид", "type", "тип товара"), width=20),
        Column("category", "Категория", ("раздел", "группа", "категория товара"), width=30),
        Column("base_price", "Цена", ("price", "базовая цена", "стоимость", "цена руб"), width=12,
               number_format="0.00"),
        Column("active", "Активен", ("активный", "в продаже", "активность"), width=10),
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.kinds, self.kind_names = label_choices(Product.Kind.choices)
        self.kind_labels = dict(zip(Product.Kind.values, self.kind_names, strict=True))
        self._paths: dict[int, str] | None = None
        self._categories: dict[str, ProductCategory | None] = {}
        self._names: dict[str, list[Product]] | None = None
        self._by_pk: dict[int, Product] = {}
        self._by_sku: dict[str, list[Product]] = {}

    @property
    def create_categories(self) -> bool:
        return bool(self.options.get("create_categories"))

    # --- export -----------------------------------------------------------------------

    def export_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.order_by("pk")

    def export_row(self, product: Product) -> list[object]:
        if self._paths is None:
            self._paths = category_paths()
        return [product.pk, product.sku, product.name, self.kind_labels.get(product.kind, product.kind),
                self._paths.get(product.category_id, "") if product.category_id else "", product.base_price,
                "да" if product.active else "нет"]

    # --- import -----------------------------------------------------------------------

    def plan(self, rows: Sequence[Row]) -> list[Planned]:
        """Read the products the file names (by ID or SKU) at once, then plan row by row."""
        ids = sorted({int(text) for row in rows if is_row_id(text := row.text("id"))})
        skus = sorted({text for row in rows if (text := row.text("sku"))})
        self._by_pk, self._by_sku = {}, {}
        for chunk in chunks(ids):
            self._by_pk.update(Product.objects.in_bulk(chunk))
        for chunk in chunks(skus):
            for product in Product.objects.filter(sku__in=chunk).order_by("pk"):
                self._by_sku.setdefault(product.sku, []).append(product)
        return super().plan(rows)

    def plan_row(self, row: Row, seen: dict[tuple[str, str], int]) -> Planned:
        planned = Planned(row.number)
        product_id = collect(planned, lambda: read_int(row, "id", "ID"))
        sku = collect(planned, lambda: read_text(row, "sku", "Артикул", 64)) or ""
        name = collect(planned, lambda: read_text(row, "name", "Название", 255)) or ""
        kind = collect(planned, lambda: read_choice(row, "kind", "Тип", self.kinds, self.kind_names)) or ""
        price = collect(planned, lambda: read_decimal(row, "base_price", "Цена"))
        active = collect(planned, lambda: read_bool(row, "active", "Активен"))
        path = [part.strip() for part in row.text("category").split("/") if part.strip()]
        category = self._category(planned, path)
        if planned.errors:
            return planned
        product = self._match(planned, product_id, sku, name)
        if planned.errors:
            return planned
        if product is None and not name:
            planned.fail("Для нового товара нужно название.")
            return planned
        keys = [("product", str(product.pk))] if product else []
        keys += [("sku", sku)] if sku else [("name", name.casefold())] if product is None else []
        earlier = next((seen[key] for key in keys if key in seen), None)
        if earlier is not None:
            planned.fail(f"Повтор строки {earlier}: тот же товар (ID, артикул или название).")
            return planned
        seen.update({key: row.number for key in keys})
        values: dict[str, Any] = {"name": name, "sku": sku, "kind": kind, "base_price": price, "active": active}
        values = {k: v for k, v in values.items() if v not in ("", None)}
        planned.payload = {"product": product.pk if product else None, "values": values, "path": path,
                           "category": category.pk if category else None}
        if path and category is None:
            planned.changes.append(f"новая категория «{SEPARATOR.join(path)}»")
        if product is None:
            planned.status = CREATED
            return planned
        planned.target = product.pk
        labels = {"name": "название", "sku": "артикул", "kind": "тип", "base_price": "цена", "active": "активен"}
        planned.changes.extend(labels[k] for k, v in values.items() if getattr(product, k) != v)
        if path and (category is None or category.pk != product.category_id):
            planned.changes.append("категория")
        planned.status = UPDATED if planned.changes else UNCHANGED
        return planned

    def _match(self, planned: Planned, product_id: int | None, sku: str, name: str) -> Product | None:
        if product_id:
            product = self._by_pk.get(product_id)
            if product is None:
                planned.fail(f"Товар с ID {product_id} не найден.")
            elif sku and sku != product.sku and (other := self._by_sku.get(sku)):
                planned.fail(f"Артикул «{sku}» уже у товара #{other[0].pk}.")
            return product
        if sku:
            found = self._by_sku.get(sku, [])[:2]
            if len(found) > 1:
                planned.fail(f"Артикул «{sku}» у нескольких товаров (#{found[0].pk}, #{found[1].pk}): укажите ID.")
            return found[0] if found else None
        if not name:
            planned.fail("Нужно название, артикул или ID товара.")
            return None
        found = self._by_name(name)
        if len(found) > 1:
            planned.fail(f"Несколько товаров «{name}» без артикула (#{found[0].pk}, #{found[1].pk}): "
                         "укажите ID или артикул.")
        return found[0] if found else None

    def _category(self, planned: Planned, path: list[str]) -> ProductCategory | None:
        """The existing category at ``path``; None (and an error unless asked to create) if not."""
        if not path:
            return None
        key = SEPARATOR.join(path).casefold()
        if key not in self._categories:
            found, rest = category_walk(path)
            self._categories[key] = None if rest else found[-1]
        category = self._categories[key]
        if category is None and not self.create_categories:
            planned.fail(f"Категория «{SEPARATOR.join(path)}» не найдена. Создайте её или отметьте "
                         "«Создавать недостающие категории».")
        return category

    def _by_name(self, name: str) -> list[Product]:
        """Products without a SKU named so, whatever the case (in Python: SQLite folds only ASCII)."""
        if self._names is None:
            self._names = {}
            for product in Product.objects.filter(sku="").order_by("pk"):
                self._names.setdefault(product.name.casefold(), []).append(product)
        return self._names.get(name.casefold(), [])[:2]

    def apply_row(self, planned: Planned) -> None:
        payload = planned.payload
        values = dict(payload["values"])
        if payload["category"]:
            values["category"] = ProductCategory.objects.get(pk=payload["category"])
        elif payload["path"]:  # spelled as the existing part is spelled, the rest as written
            found, rest = category_walk(payload["path"])
            values["category"] = category_get_or_create([c.name for c in found] + rest)
        if payload["product"] is None:
            product = product_upsert(name=values["name"], kind=values.get("kind", Product.Kind.TICKET),
                                     base_price=values.get("base_price", Decimal("0")),
                                     category=values.get("category"), sku=values.get("sku", ""),
                                     active=values.get("active", True))
        else:
            product = Product.objects.select_for_update().get(pk=payload["product"])
            for name, value in values.items():
                setattr(product, name, value)
            product.save()
        planned.target = product.pk


def category_walk(path: list[str]) -> tuple[list[ProductCategory], list[str]]:
    """The categories along ``path`` that exist (exact name, else the one that matches
    whatever the case), and the names past the last one found."""
    found: list[ProductCategory] = []
    for depth, name in enumerate(path):
        level = list(ProductCategory.objects.filter(parent=found[-1] if found else None))
        match = next((c for c in level if c.name == name), None)
        if match is None:
            folded = [c for c in level if c.name.casefold() == name.casefold()]
            match = folded[0] if len(folded) == 1 else None
        if match is None:
            return found, path[depth:]
        found.append(match)
    return found, []
