"""The database's own line against double booking, behind the service's locked check:
active reservations of one resource cannot overlap. PostgreSQL: a btree_gist exclusion
constraint. SQLite: triggers that abort the write. Both name ``reservation_no_overlap``."""

from django.db import migrations

NAME = "reservation_no_overlap"
SQLITE_CHECK = f"""
WHEN NEW.active AND EXISTS (
    SELECT 1 FROM bookings_reservation r
    WHERE r.resource_id = NEW.resource_id AND r.active AND r.id != NEW.id
      AND r.starts_at < NEW.blocked_until AND r.blocked_until > NEW.starts_at)
BEGIN SELECT RAISE(ABORT, '{NAME}: the resource is already booked for this time'); END"""


def add(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        schema_editor.execute(
            f"ALTER TABLE bookings_reservation ADD CONSTRAINT {NAME} EXCLUDE USING gist "
            "(resource_id WITH =, tstzrange(starts_at, blocked_until, '[)') WITH &&) WHERE (active)")
    elif vendor == "sqlite":
        for event in ("INSERT", "UPDATE"):
            schema_editor.execute(f"CREATE TRIGGER {NAME}_{event.lower()} BEFORE {event} ON bookings_reservation"
                                  + SQLITE_CHECK)


def remove(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE bookings_reservation DROP CONSTRAINT IF EXISTS {NAME}")
    elif vendor == "sqlite":
        for event in ("insert", "update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {NAME}_{event}")


class Migration(migrations.Migration):
    dependencies = [("bookings", "0002_halls_staff_bookings")]
    operations = [migrations.RunPython(add, remove)]
