from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailingsConfig(AppConfig):
    name = "mailings"
    verbose_name = _("Mailings")

    def ready(self) -> None:
        from hub.services.deals import deal_moved
        from mailings.services.triggers import on_deal_moved

        deal_moved.connect(on_deal_moved, dispatch_uid="mailings.nps_and_deal_notifications")
