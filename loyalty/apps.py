from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self) -> None:
        from hub.services.deals import deal_moved
        from loyalty.services.grants import on_deal_moved

        deal_moved.connect(on_deal_moved, dispatch_uid="loyalty.bonus_from_crm_deal")
