from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self) -> None:
        from hub.services.deals import deal_moved
        from hub.services.sales import pass_recorded, purchase_recorded
        from loyalty.services.earning import on_purchase_recorded
        from loyalty.services.grants import on_deal_moved
        from loyalty.services.issuing import on_purchase_recorded as issue_on_purchase
        from loyalty.services.referrals import on_receipt_confirmed as referral_on_receipt
        from loyalty.services.referrals import on_receipt_refunded as referral_on_refund
        from loyalty.services.subscriptions import on_pass_recorded
        from loyalty.services.tiers import on_receipt_changed
        from loyalty.signals import receipt_confirmed, receipt_refunded

        deal_moved.connect(on_deal_moved, dispatch_uid="loyalty.bonus_from_crm_deal")
        purchase_recorded.connect(on_purchase_recorded, dispatch_uid="loyalty.purchase_earn")
        purchase_recorded.connect(issue_on_purchase, dispatch_uid="loyalty.issue_sold_certificates")
        pass_recorded.connect(on_pass_recorded, dispatch_uid="loyalty.subscription_visit")
        receipt_confirmed.connect(on_receipt_changed, dispatch_uid="loyalty.tier_on_receipt")
        receipt_refunded.connect(on_receipt_changed, dispatch_uid="loyalty.tier_on_refund")
        receipt_confirmed.connect(referral_on_receipt, dispatch_uid="loyalty.referral_on_receipt")
        receipt_refunded.connect(referral_on_refund, dispatch_uid="loyalty.referral_on_refund")
