"""Analytics pages in the admin (/admin/analytics/…)."""

urlpatterns: list = []
