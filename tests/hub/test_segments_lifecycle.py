"""The lifecycle and "bought from a category" segment filters: each picks exactly the right
contacts, round-trips through a segment's rules and the admin form, and the segment list
shows the sizes the daily job counted."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from hub.admin.segments import ContactFilterForm
from hub.models import ClientLifecycle, Contact, Product, ProductCategory, Purchase, PurchaseLine, Segment
from hub.segments import ContactFilter, contacts_matching
from hub.selectors import category_subtree

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
TODAY = NOW.date()


def staged(name: str, stage: str, **fields) -> Contact:
    contact = Contact.objects.create(first_name=name, **fields)
    ClientLifecycle.objects.create(contact=contact, stage=stage, since=TODAY, computed_on=TODAY)
    return contact


def test_lifecycle_filter_picks_the_stage_and_skips_merged_contacts():
    anna = staged("Анна", "lapsing")
    staged("Борис", "active")
    vera = staged("Вера", "lapsing", category="child")
    staged("Дубль", "lapsing", merged_into=anna)
    Contact.objects.create(first_name="Без этапа")
    assert set(contacts_matching(ContactFilter(lifecycle="lapsing"))) == {anna, vera}
    assert list(contacts_matching(ContactFilter(lifecycle="lapsing", category="adult"))) == [anna]
    assert not contacts_matching(ContactFilter(lifecycle="returned")).exists()
    assert contacts_matching(ContactFilter()).count() == 4  # empty: no filter


@pytest.fixture
def tree():
    tickets = ProductCategory.objects.create(name="Билеты")
    kids = ProductCategory.objects.create(name="Детские", parent=tickets)
    weekend = ProductCategory.objects.create(name="Выходные", parent=kids)
    food = ProductCategory.objects.create(name="Еда")
    return tickets, kids, weekend, food


def bought(contact: Contact | None, category: ProductCategory | None, days_ago: int, status: str = "paid") -> None:
    product = Product.objects.create(name=f"Товар {category}", category=category)
    purchase = Purchase.objects.create(contact=contact, purchased_at=NOW - dt.timedelta(days=days_ago),
                                       status=status, total=Decimal(100))
    PurchaseLine.objects.create(purchase=purchase, product=product, amount=Decimal(100))


def test_category_subtree_is_read_once_and_covers_every_level(tree, django_assert_num_queries):
    tickets, kids, weekend, food = tree
    with django_assert_num_queries(1):
        assert category_subtree([tickets.pk]) == {tickets.pk, kids.pk, weekend.pk}
    assert category_subtree([kids.pk]) == {kids.pk, weekend.pk}
    assert category_subtree([food.pk]) == {food.pk}


def test_bought_category_with_subcategories_ever_or_within_days(tree):
    tickets, kids, weekend, food = tree
    anna = Contact.objects.create(first_name="Анна")
    bought(anna, weekend, 10)  # a grandchild category, 10 days ago
    boris = Contact.objects.create(first_name="Борис")
    bought(boris, food, 1)  # another branch
    vera = Contact.objects.create(first_name="Вера")
    bought(vera, tickets, 1, status="refunded")  # refunded: not bought
    dina = Contact.objects.create(first_name="Дина")
    bought(dina, kids, 100)
    gleb = Contact.objects.create(first_name="Глеб")
    bought(gleb, None, 1)  # a product without a category
    bought(None, tickets, 1)  # an anonymous receipt
    edge = Contact.objects.create(first_name="Ровно 30 дней")
    bought(edge, tickets, 30)

    def match(**rules):
        return set(contacts_matching(ContactFilter(**rules), NOW))

    assert match(bought_category=tickets.pk) == {anna, dina, edge}
    assert match(bought_category=tickets.pk, bought_within_days=30) == {anna, edge}
    assert match(bought_category=tickets.pk, bought_within_days=29) == {anna}
    assert match(bought_category=kids.pk, bought_within_days=5) == set()
    assert match(bought_category=weekend.pk) == {anna}
    assert match(bought_category=food.pk) == {boris}
    staged_anna = ClientLifecycle.objects.create(contact=anna, stage="active", since=TODAY, computed_on=TODAY)
    assert match(bought_category=tickets.pk, lifecycle="active") == {staged_anna.contact}


def test_new_rules_round_trip():
    spec = ContactFilter(lifecycle="returned", bought_category=7, bought_within_days=0, category="adult")
    rules = spec.to_rules()
    assert rules == {"category": "adult", "lifecycle": "returned", "bought_category": 7, "bought_within_days": 0}
    assert ContactFilter.from_rules(rules) == spec
    assert ContactFilter.from_rules({"lifecycle": "lost"}).bought_category is None


def test_form_turns_fields_into_the_filter_and_checks_them(tree):
    tickets = tree[0]
    form = ContactFilterForm({"lifecycle": "lapsing", "bought_category": tickets.pk, "bought_within_days": "14"})
    assert form.is_valid(), form.errors
    assert form.contact_filter() == ContactFilter(lifecycle="lapsing", bought_category=tickets.pk,
                                                  bought_within_days=14)
    assert "Билеты / Детские" in str(form["bought_category"])  # a subcategory is named with its parent
    assert str(form.fields["lifecycle"].help_text) and str(form.fields["bought_within_days"].help_text)
    orphan = ContactFilterForm({"bought_within_days": "14"})
    assert not orphan.is_valid() and "выберите категорию" in str(orphan.non_field_errors())
    assert not ContactFilterForm({"lifecycle": "gone"}).is_valid()


def test_segment_admin_saves_the_rules_shows_them_again_and_lists_counted_sizes(admin_client, tree):
    tickets = tree[0]
    answer = admin_client.post(reverse("admin:hub_segment_add"), {
        "name": "Уходящие любители билетов", "lifecycle": "lapsing", "bought_category": tickets.pk,
        "bought_within_days": "90"})
    assert answer.status_code == 302, answer.content.decode()
    segment = Segment.objects.get()
    assert segment.rules == {"lifecycle": "lapsing", "bought_category": tickets.pk, "bought_within_days": 90}
    page = admin_client.get(reverse("admin:hub_segment_change", args=[segment.pk])).content.decode()
    assert '<option value="lapsing" selected>' in page
    assert f'<option value="{tickets.pk}" selected>' in page
    assert 'name="bought_within_days" value="90"' in page
    Segment.objects.filter(pk=segment.pk).update(size=1234, counted_on=dt.date(2026, 6, 1))
    listing = admin_client.get(reverse("admin:hub_segment_changelist")).content.decode()
    assert "1234" in listing and "2026" in listing
