"""Client cabinet: pages under /cabinet/, the JSON API under /api/cabinet/ (see api_urls)."""

from django.urls import path

from cabinet import views

app_name = "cabinet"
urlpatterns = [
    path("", views.home_page, name="home"),
    path("login/", views.login_page, name="login"),
    path("login/code/", views.code_page, name="code"),
    path("logout/", views.logout_page, name="logout"),
    path("edit/", views.edit_page, name="edit"),
    path("consents/<slug:purpose>/withdraw/", views.withdraw_page, name="withdraw"),
]
