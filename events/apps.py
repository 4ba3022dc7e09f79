from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = _("Events and ticket sales")

    def ready(self) -> None:
        from events.services import crm

        crm.connect_signals()
