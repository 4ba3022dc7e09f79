from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self) -> None:
        from hub.services.deals import deal_moved
        from hub.services.sales import purchase_recorded
        from loyalty.services.earning import on_purchase_recorded
        from loyalty.services.grants import on_deal_moved

        deal_moved.connect(on_deal_moved, dispatch_uid="loyalty.bonus_from_crm_deal")
        purchase_recorded.connect(on_purchase_recorded, dispatch_uid="loyalty.purchase_earn")
