"""Whether a line falls under what a rule, promo code, limit or certificate is for: its
products, or its categories with their subcategories (empty lists: every line)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.models import Product, ProductCategory
from loyalty.models.targeting import Targeted


def category_chain(category: ProductCategory | None) -> set[int]:
    """The category and every parent up the tree (cycles stop)."""
    chain: set[int] = set()
    while category is not None and category.pk not in chain:
        chain.add(category.pk)
        category = category.parent
    return chain


@dataclass(frozen=True)
class Target:
    products: frozenset[int]
    categories: frozenset[int]

    @classmethod
    def of(cls, row: Targeted) -> Target:
        return cls(frozenset(p.pk for p in row.products.all()), frozenset(c.pk for c in row.categories.all()))

    @property
    def everything(self) -> bool:
        return not self.products and not self.categories

    def covers(self, product: Product | None) -> bool:
        if self.everything:
            return True
        if product is None:
            return False
        return product.pk in self.products or bool(self.categories & category_chain(product.category))

    def describe(self) -> str:
        return "все позиции" if self.everything else "выбранные товары и категории"
