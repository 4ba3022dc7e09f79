"""The connection wizard (/admin/connections/wizard/…)."""

urlpatterns: list = []
