from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = _("Bookings")

    def ready(self) -> None:
        from bookings.services.crm_requests import on_deal_moved
        from hub.services.deals import deal_moved

        deal_moved.connect(on_deal_moved, dispatch_uid="bookings.booking_from_crm_deal")
