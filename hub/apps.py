from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

# django-celery-beat's app name, translated in our catalogue («Расписания»); named here so that
# makemessages keeps the entry.
gettext_noop("Periodic Tasks")


def _sync_roles(sender: AppConfig, **kwargs: object) -> None:
    """After the last app has migrated, every model's permissions exist: refresh the roles."""
    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if sender.label != last.label:
        return
    from django.db import connections

    from hub.services.roles import roles_sync
    from loyalty.models import GrantLimit

    # Migrating backwards may have removed tables the roles need: then there is nothing to sync.
    if GrantLimit._meta.db_table not in connections[kwargs.get("using") or "default"].introspection.table_names():
        return

    roles_sync()


class HubConfig(AppConfig):
    name = "hub"
    verbose_name = _("Clients, sales and connections")

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, dispatch_uid="hub.roles_sync")
