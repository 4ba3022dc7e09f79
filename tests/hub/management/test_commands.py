import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from hub.models import Connection, Outbox

pytestmark = pytest.mark.django_db


def test_connect_creates_then_updates_with_secrets_from_env(monkeypatch, capsys):
    monkeypatch.setenv("SITE_TOKEN", "from-env")
    call_command("connect", "Site", "--system", "webhook", "--base-url", "https://site.example",
                 "--credential-env", "token=SITE_TOKEN", "--setting", "max_attempts=4", "--time-zone", "Asia/Omsk")
    call_command("connect", "Site", "--credential", "secret=s", "--disable")
    connection = Connection.objects.get()
    assert connection.credentials == {"token": "from-env", "secret": "s"}
    assert connection.settings == {"max_attempts": 4}
    assert (connection.time_zone, connection.enabled) == ("Asia/Omsk", False)
    assert "updated" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["New"], "needs a system"),
    (["New", "--system", "nope"], "Unknown system"),
    (["New", "--system", "webhook", "--time-zone", "Mars/Base"], "Unknown time zone"),
    (["New", "--system", "webhook", "--credential-env", "token=NOT_SET_ANYWHERE"], "is not set"),
])
def test_connect_refuses_bad_input_clearly(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("connect", *args)
    assert Connection.objects.count() == 0


def test_sync_full_backfills_with_progress(webhook_connection, webhook_emulator, capsys):
    with webhook_emulator.app.lock:
        for i in range(3):
            webhook_emulator.app._store_contact(f"c{i}", {"phone": f"+7912000000{i}"})
    call_command("sync", "Site", "--full")
    captured = capsys.readouterr()
    assert "Site: contacts: 3" in captured.out
    assert "contacts" in captured.err  # the progress bar
    with pytest.raises(CommandError, match="no connection"):
        call_command("sync", "Nope")


def test_hub_status_shows_queue_and_dead_letters(webhook_connection, capsys):
    Outbox.objects.create(connection=webhook_connection, action="contact.upsert")
    Outbox.objects.create(connection=webhook_connection, action="contact.upsert", status=Outbox.Status.DEAD)
    call_command("hub_status", "--json")
    data = json.loads(capsys.readouterr().out)
    site = data["connections"][0]
    assert (site["name"], site["queued"], site["dead"]) == ("Site", 1, 1)
    call_command("hub_status")
    assert "Site" in capsys.readouterr().out


def test_demo_setup_makes_one_user_per_role_with_the_admins_password(monkeypatch, capsys):
    monkeypatch.setenv("HUB_ADMIN_PASSWORD", "demo-pass")
    call_command("demo_setup")
    out = capsys.readouterr().out
    assert "Менеджер login: manager / demo-pass" in out
    manager = get_user_model().objects.get(username="manager")
    assert manager.check_password("demo-pass") and manager.is_staff and not manager.is_superuser
    assert manager.has_perm("loyalty.add_entry") and not manager.has_perm("hub.change_connection")
    assert get_user_model().objects.get(username="auditor").groups.get().name == "Аудитор"
