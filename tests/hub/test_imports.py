"""The admin side of import/export: pages, the check → apply flow, downloads, permissions."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from hub.models import Contact, Outbox, Product
from hub.services.catalog import product_upsert
from hub.services.contacts import ContactData, contact_merge, contact_upsert
from tests.hub.imports.tables import csv_bytes, csv_rows, xlsx_bytes, xlsx_rows

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:hub_contact_import")
ROWS = [["Фамилия", "Имя", "Телефон", "E-mail", "Дата рождения"],
        ["Иванова", "Анна", "8 912 345-67-89", "anna@example.ru", dt.datetime(1990, 5, 1)],
        ["Петров", "Пётр", "12345", "", "01.05.1990"]]


def staff(name: str, *perms: str) -> Client:
    user = get_user_model().objects.create_user(name, password="x", is_staff=True)
    for perm in perms:
        user.user_permissions.add(Permission.objects.get(codename=perm, content_type__app_label="hub"))
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, data: bytes, name: str = "clients.xlsx", url: str = IMPORT, **extra):  # type: ignore[no-untyped-def]
    return client.post(url, {"file": SimpleUploadedFile(name, data), "check": "1", **extra}, follow=True)


def token_of(response) -> str:  # type: ignore[no-untyped-def]
    return response.context["token"]


@pytest.fixture
def apply(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """POST "apply"; the queued background apply runs (Celery is eager in tests) once the
    request's work commits, as it would in production."""
    def run(client: Client, token: str, url: str = IMPORT, **extra):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"token": token, "apply": "1", **extra})
        return client.get(response.url) if response.status_code == 302 else response
    return run


def test_check_shows_the_report_and_apply_writes_the_valid_rows(admin_client, webhook_connection, apply):
    page = admin_client.get(IMPORT)
    assert page.status_code == 200 and 'id="import-check"' in page.content.decode()
    checked = upload(admin_client, xlsx_bytes(ROWS))
    html = checked.content.decode()
    assert "Результат проверки — ничего не записано" in html and 'id="import-apply"' in html
    assert [(r.row, r.status_label) for r in checked.context["report"].rows] == [(2, "создан"), (3, "ошибка")]
    assert "Телефон «12345» не распознан как номер телефона." in html
    assert not Contact.objects.exists() and not Outbox.objects.exists()

    report_url = reverse("admin:hub_contact_import_report", args=[token_of(checked)])
    assert csv_rows(admin_client.get(report_url).content) == [
        ["Строка", "Статус", "Изменения", "Ошибки"], ["2", "создан", "", ""],
        ["3", "ошибка", "", "Телефон «12345» не распознан как номер телефона."]]

    applied = apply(admin_client, token_of(checked))
    html = applied.content.decode()
    assert "Импорт выполнен" in html
    assert applied.context["report"].totals == {"created": 1, "updated": 0, "unchanged": 0, "error": 1, "total": 2}
    assert 'id="import-apply"' not in html
    anna = Contact.objects.get()
    assert (anna.phone, anna.birth_date) == ("+79123456789", dt.date(1990, 5, 1))
    assert Outbox.objects.filter(action="contact.upsert", target_id=anna.pk).exists()
    assert csv_rows(admin_client.get(report_url).content)[1] == ["2", "создан", "", ""]

    again = admin_client.post(IMPORT, {"token": token_of(checked), "apply": "1"}, follow=True)
    assert "уже импортирован или устарел" in again.content.decode()
    assert Contact.objects.count() == 1

    rechecked = upload(admin_client, xlsx_bytes(ROWS))
    assert [r.status for r in rechecked.context["report"].rows] == ["unchanged", "error"]
    assert "Записывать нечего" in rechecked.content.decode()


def test_the_kept_file_is_applied_not_anything_the_browser_sends(admin_client, apply):
    checked = upload(admin_client, csv_bytes(ROWS[:2]), "a.csv")
    apply(admin_client, token_of(checked), file=SimpleUploadedFile("b.csv", csv_bytes([["Телефон"], ["89130000001"]])))
    assert list(Contact.objects.values_list("phone", flat=True)) == ["+79123456789"]


def test_another_operators_token_is_refused(admin_client):
    checked = upload(admin_client, csv_bytes(ROWS), "a.csv")
    other = staff("other", "add_contact", "change_contact")
    response = other.post(IMPORT, {"token": token_of(checked), "apply": "1"}, follow=True)
    assert "уже импортирован или устарел" in response.content.decode()
    assert other.get(reverse("admin:hub_contact_import_report", args=[token_of(checked)])).status_code == 404
    assert not Contact.objects.exists()


@pytest.mark.parametrize(("name", "data", "message"), [
    ("clients.csv", b"", "Отправленный файл пуст."),
    ("clients.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "Нужен файл CSV или XLSX, а не «.pdf»."),
    ("clients.xlsx", b"PK\x03\x04garbage", "Файл повреждён"),
    ("clients.csv", b"\x00\x01\x02\x03\xff\xfe", "не похож на таблицу CSV"),
])
def test_bad_uploads_are_form_errors_not_500(admin_client, name, data, message):
    response = upload(admin_client, data, name)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["report"] is None


def test_oversize_upload_is_refused_before_reading(admin_client, settings):
    settings.HUB_IMPORT_MAX_BYTES = 1024 * 1024
    response = upload(admin_client, b"x" * (1024 * 1024 + 10), "big.csv")
    assert "Файл больше 1 МБ" in response.content.decode()
    assert "Не больше 1 МБ" in response.content.decode()  # the form says the limits up front


def test_product_import_can_create_missing_categories(admin_client, apply):
    url = reverse("admin:hub_product_import")
    rows = [["Артикул", "Название", "Категория", "Цена"], ["B-1", "Батут", "Аттракционы", "300"]]
    without = upload(admin_client, csv_bytes(rows), "goods.csv", url=url)
    assert [r.status for r in without.context["report"].rows] == ["error"]
    checked = upload(admin_client, csv_bytes(rows), "goods.csv", url=url, create_categories="on")
    assert [r.status for r in checked.context["report"].rows] == ["created"]
    apply(admin_client, token_of(checked), url=url)
    assert Product.objects.get(sku="B-1").category.name == "Аттракционы"


def people() -> tuple[Contact, Contact, Contact]:
    anna, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    kid, _ = contact_upsert(ContactData(first_name="Миша", category="child", emails=["misha@example.ru"]))
    twin, _ = contact_upsert(ContactData(first_name="Миша-дубль", category="child", phones=["+79130000001"]))
    contact_merge(kid, twin)
    return anna, kid, twin


def test_export_button_exports_the_filtered_list_without_merged_contacts(admin_client):
    anna, kid, _twin = people()
    changelist = admin_client.get(reverse("admin:hub_contact_changelist"), {"category__exact": "child"})
    html = changelist.content.decode()
    assert 'id="import-link"' in html
    export_url = reverse("admin:hub_contact_export", args=["csv"]) + "?category__exact=child"
    assert f'href="{export_url}"' in html
    rows = csv_rows(admin_client.get(export_url).content)
    assert [row[0] for row in rows[1:]] == [str(kid.pk)]
    searched = admin_client.get(reverse("admin:hub_contact_export", args=["xlsx"]), {"q": "Анна"})
    assert searched["Content-Disposition"].startswith('attachment; filename="contacts-')
    assert [row[0] for row in xlsx_rows(searched.content)[1:]] == [anna.pk]
    bad = admin_client.get(reverse("admin:hub_contact_export", args=["csv"]), {"nonsense__field": "1"}, follow=True)
    assert "Фильтр списка не распознан" in bad.content.decode()
    assert admin_client.get(reverse("admin:hub_contact_export", args=["pdf"])).status_code == 404


def test_export_action_on_selected_rows(admin_client):
    anna, _kid, twin = people()
    response = admin_client.post(reverse("admin:hub_contact_changelist"),
                                 {"action": "export_xlsx", "_selected_action": [anna.pk, twin.pk]})
    assert [row[0] for row in xlsx_rows(response.content)[1:]] == [anna.pk]
    product = product_upsert(name="Билет", sku="T-1")
    response = admin_client.post(reverse("admin:hub_product_changelist"),
                                 {"action": "export_csv", "_selected_action": [product.pk]})
    assert csv_rows(response.content)[1][:3] == [str(product.pk), "T-1", "Билет"]


def test_import_needs_add_and_change_permission_and_export_needs_view():
    people()
    export_url = reverse("admin:hub_contact_export", args=["csv"])
    viewer = staff("viewer", "view_contact")
    assert viewer.get(IMPORT).status_code == 403
    assert viewer.post(IMPORT, {"file": SimpleUploadedFile("a.csv", csv_bytes(ROWS))}).status_code == 403
    assert viewer.get(export_url).status_code == 200
    page = viewer.get(reverse("admin:hub_contact_changelist")).content.decode()
    assert 'id="export-csv-link"' in page and 'id="import-link"' not in page
    response = viewer.post(reverse("admin:hub_contact_changelist"),
                           {"action": "export_csv", "_selected_action": [Contact.objects.first().pk]})
    assert response["Content-Type"].startswith("text/csv")

    adder = staff("adder", "view_contact", "add_contact")
    assert adder.get(IMPORT).status_code == 403
    both = staff("editor", "add_contact", "change_contact")
    assert both.get(IMPORT).status_code == 200
    assert both.get(reverse("admin:hub_product_import")).status_code == 403
    assert both.get(reverse("admin:hub_product_export", args=["csv"])).status_code == 403
    nobody = staff("nobody")
    assert nobody.get(export_url).status_code == 403


@pytest.mark.parametrize(("role", "imports"), [("manager", {"contact"}), ("operator", {"product"}), ("auditor", set())])
def test_the_staff_roles_import_what_they_may_edit_and_export_what_they_see(role, imports):
    from django.contrib.auth.models import Group

    from hub.services.roles import AUDITOR, MANAGER, OPERATOR, roles_sync

    roles_sync()
    user = get_user_model().objects.create_user(role, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name={"manager": MANAGER, "operator": OPERATOR, "auditor": AUDITOR}[role].name))
    client = Client()
    client.force_login(user)
    for model in ("contact", "product"):
        assert client.get(reverse(f"admin:hub_{model}_import")).status_code == (200 if model in imports else 403)
        assert client.get(reverse(f"admin:hub_{model}_export", args=["xlsx"])).status_code == 200
