"""The check → background apply cycle and what is kept on disk meanwhile."""

import os
import time
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from hub.imports.services import import_apply, import_check, import_start
from hub.imports.storage import upload_record, upload_sweep
from hub.models import Contact
from tests.hub.imports.tables import csv_bytes

pytestmark = pytest.mark.django_db

ROWS = [["Имя", "Телефон"], ["Анна", "89123456789"], ["Пётр", "89130000001"]]


def files_of(token: str) -> list[str]:
    return sorted(p.name for p in Path(settings.HUB_IMPORTS_DIR).glob(f"{token}.*"))


def test_apply_runs_in_the_background_and_the_page_follows_it(admin_client, admin_user,
                                                               django_capture_on_commit_callbacks):
    token = import_check("contacts", "a.csv", csv_bytes(ROWS), user_id=admin_user.pk, options={})
    assert files_of(token) == [f"{token}.json", f"{token}.upload"]
    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(reverse("admin:hub_contact_import"), {"token": token, "apply": "1"})
    page = admin_client.get(response.url).content.decode()
    assert "Импорт выполняется" in page and 'http-equiv="refresh"' in page and 'id="import-apply"' not in page
    assert not Contact.objects.exists()

    queued[0]()  # the worker picks the task up
    page = admin_client.get(response.url).content.decode()
    assert "Импорт выполнен" in page and "Импорт выполняется" not in page
    assert Contact.objects.count() == 2
    assert files_of(token) == [f"{token}.json"]  # the file with personal data is gone
    assert import_apply(token) is None  # a task delivered twice does nothing
    assert Contact.objects.count() == 2


def test_a_crashed_apply_is_reported_and_drops_the_file(admin_client, admin_user, django_capture_on_commit_callbacks):
    token = import_check("contacts", "a.csv", csv_bytes(ROWS), user_id=admin_user.pk, options={})
    with django_capture_on_commit_callbacks() as queued:
        import_start("contacts", token, user_id=admin_user.pk)
    with mock.patch("hub.imports.contacts.contact_upsert", side_effect=RuntimeError("boom")):
        queued[0]()  # the task fails (eager Celery keeps the exception in its result)
    record = upload_record(token, table="contacts", user_id=admin_user.pk)
    assert record["state"] == "failed" and "Импорт прерван из-за внутренней ошибки (RuntimeError)" in record["error"]
    assert files_of(token) == [f"{token}.json"]
    page = admin_client.get(reverse("admin:hub_contact_import"), {"token": token}).content.decode()
    assert 'id="import-failed"' in page and 'id="import-apply"' not in page


def test_a_row_failing_on_write_is_an_error_and_the_others_are_written(admin_user):
    token = import_check("contacts", "a.csv", csv_bytes(ROWS), user_id=admin_user.pk, options={})
    import_start("contacts", token, user_id=admin_user.pk)
    from hub.services import contacts

    real = contacts.contact_upsert

    def flaky(data, **kwargs):  # type: ignore[no-untyped-def]
        if data.first_name == "Пётр":
            raise ValidationError({"phone": "taken meanwhile"})
        return real(data, **kwargs)

    with mock.patch("hub.imports.contacts.contact_upsert", side_effect=flaky):
        report = import_apply(token)
    assert [(r.status, r.errors) for r in report.rows] == [("created", []),
                                                           ("error", ["Не записано: taken meanwhile"])]
    assert list(Contact.objects.values_list("first_name", flat=True)) == ["Анна"]


def test_a_token_is_only_for_its_table_and_user_and_tampered_tokens_are_refused(admin_user):
    token = import_check("contacts", "a.csv", csv_bytes(ROWS), user_id=admin_user.pk, options={})
    for table, user, value in (("products", admin_user.pk, token), ("contacts", admin_user.pk + 1, token),
                               ("contacts", admin_user.pk, "../../secret_key"), ("contacts", admin_user.pk, "")):
        with pytest.raises(ValidationError, match="уже импортирован или устарел"):
            upload_record(value, table=table, user_id=user)
        with pytest.raises(ValidationError):
            import_start(table, value, user_id=user)
    assert upload_record(token, table="contacts", user_id=admin_user.pk)["pending"] is True


def test_unapplied_files_are_swept_after_a_day(admin_user):
    old = import_check("contacts", "a.csv", csv_bytes(ROWS), user_id=admin_user.pk, options={})
    day_ago = time.time() - 25 * 3600
    for name in files_of(old):
        os.utime(Path(settings.HUB_IMPORTS_DIR) / name, (day_ago, day_ago))
    fresh = import_check("contacts", "b.csv", csv_bytes(ROWS), user_id=admin_user.pk, options={})
    upload_sweep()
    assert files_of(old) == [] and len(files_of(fresh)) == 2


def test_the_background_apply_is_recorded_as_the_person_who_started_it(admin_user):
    token = import_check("contacts", "a.csv", csv_bytes(ROWS), user_id=admin_user.pk, options={})
    import_start("contacts", token, user_id=admin_user.pk)
    import_apply(token)
    users = {h.history_user for contact in Contact.objects.all() for h in contact.history.all()}
    assert users == {admin_user}


def test_checked_files_wait_in_the_configured_shared_folder(admin_user, settings, tmp_path,
                                                             django_capture_on_commit_callbacks):
    settings.HUB_IMPORTS_DIR = tmp_path / "shared"
    token = import_check("contacts", "a.csv", csv_bytes(ROWS), user_id=admin_user.pk, options={})
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == [f"{token}.json", f"{token}.upload"]
    with django_capture_on_commit_callbacks(execute=True):
        import_start("contacts", token, user_id=admin_user.pk)
    assert Contact.objects.filter(first_name="Анна").exists()
