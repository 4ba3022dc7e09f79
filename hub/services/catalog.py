"""Products, categories and service points, upserted by external ref or natural key."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from hub.models import Connection, Product, ProductCategory, ServicePoint
from hub.services.external_refs import external_ref_find, external_ref_link
from hub.services.money import money


def category_get_or_create(path: list[str]) -> ProductCategory | None:
    """['Tickets', 'Children'] → the nested category, created as needed."""
    parent = None
    for name in [p.strip() for p in path if p and p.strip()]:
        parent, _ = ProductCategory.objects.get_or_create(parent=parent, name=name[:200])
    return parent


@transaction.atomic
def product_upsert(
    *,
    name: str,
    kind: str = Product.Kind.TICKET,
    base_price: Decimal | str | int = Decimal("0"),
    category: ProductCategory | None = None,
    sku: str = "",
    active: bool = True,
    connection: Connection | None = None,
    external_id: str | None = None,
) -> Product:
    if not (name or "").strip():
        raise ValidationError({"name": "Product name is empty."})
    if kind not in Product.Kind.values:
        raise ValidationError({"kind": f"Unknown product kind {kind!r}."})
    product = None
    if connection and external_id:
        ref = external_ref_find(connection, "product", external_id)
        product = Product.objects.filter(pk=ref.local_id).first() if ref else None
    if product is None and sku:
        product = Product.objects.filter(sku=sku).first()
    product = product or Product()
    product.name, product.kind, product.base_price = name.strip()[:255], kind, money(base_price)
    product.category, product.sku, product.active = category, sku, active
    product.save()
    if connection and external_id:
        external_ref_link(connection, "product", product.pk, external_id)
    return product


def product_for_source(connection: Connection, external_id: str, *, name: str, price: Decimal,
                       kind: str = Product.Kind.TICKET, sku: str = "") -> Product:
    """The catalog's product for a line a site sold: by the site's id, else by SKU (as it is:
    the catalog's owner may be Lime), else made here under that id."""
    ref = external_ref_find(connection, "product", external_id)
    if ref and (found := Product.objects.filter(pk=ref.local_id).first()):
        return found
    if sku and (found := Product.objects.filter(sku=sku).order_by("pk").first()):
        return found
    return product_upsert(name=name, kind=kind, base_price=price, sku=sku, connection=connection,
                          external_id=external_id)


def service_point_get_or_create(name: str, kind: str = "") -> ServicePoint | None:
    name = (name or "").strip()
    if not name:
        return None
    point, _ = ServicePoint.objects.get_or_create(name=name[:200], defaults={"kind": kind})
    return point
