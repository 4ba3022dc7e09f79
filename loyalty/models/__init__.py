from loyalty.models.api import ApiKey
from loyalty.models.certificates import Certificate, CertificateOperation, CertificateType
from loyalty.models.ledger import (
    Account,
    Allocation,
    BirthdayBonus,
    CategoryRate,
    Entry,
    GrantLimit,
    Program,
    ProgramOrder,
    ProgramRequest,
    Reconciliation,
)
from loyalty.models.limits import PurchaseLimit
from loyalty.models.offers import OfferExposure
from loyalty.models.promos import PromoCode, PromoUse
from loyalty.models.receipts import Receipt, ReceiptLine, RuleHit
from loyalty.models.referrals import Referral, ReferralCode, ReferralProgram
from loyalty.models.rules import EarningRule
from loyalty.models.subscriptions import Subscription, SubscriptionPlan, SubscriptionVisit
from loyalty.models.tiers import Tier, TierChange

__all__ = [
    "Account", "Allocation", "ApiKey", "BirthdayBonus", "CategoryRate", "Certificate", "CertificateOperation",
    "CertificateType", "EarningRule", "Entry", "GrantLimit", "OfferExposure", "Program", "ProgramOrder",
    "ProgramRequest", "PromoCode", "PromoUse", "PurchaseLimit", "Receipt", "ReceiptLine", "Reconciliation",
    "Referral", "ReferralCode", "ReferralProgram", "RuleHit", "Subscription", "SubscriptionPlan",
    "SubscriptionVisit", "Tier", "TierChange",
]
