"""Import and export of admin tables (contacts, products) as CSV or XLSX.

Why our own small implementation on ``csv`` + ``openpyxl`` rather than django-import-export:
that library is built around one model instance per row, found by ``import_id_fields`` and
saved with ``instance.save()``, and its dry run performs every write inside a transaction
that is then rolled back. Contacts here must go through ``contact_upsert`` — matched by any
phone / e-mail / messenger id, duplicates merged, changes queued in the Outbox for the CRMs —
so its Resource, diff and save hooks would all be overridden, and a dry run would really
merge contacts and take row locks before rolling back. Here the check is reads only, the
apply step calls the hub's services, and the rest (reading CSV in any delimiter and encoding,
XLSX, tolerant Russian headers, the report) is a few hundred lines on libraries the project
already has (no tablib, no second admin UI, no extra permission model).

Modules: ``files`` reads an upload into rows, ``table`` is the shared column / report
machinery, ``contacts`` and ``products`` describe each table, ``storage`` keeps a checked
file server-side until it is applied, ``admin`` holds the thin admin views and actions.
"""
