from hub.models.catalog import Product, ProductCategory, ServicePoint
from hub.models.consent import ConsentRecord, ConsentText
from hub.models.contacts import Card, Contact, ContactIdentity, ContactRelation, Tag
from hub.models.dialogs import DialogMessage
from hub.models.lifecycle import ClientLifecycle, LifecycleChange, LifecyclePolicy, Stage
from hub.models.requests import ClientRequest
from hub.models.sales import Pass, Purchase, PurchaseLine
from hub.models.segments import Segment
from hub.models.sync import Connection, CrmDealState, ExternalRef, Inbox, Outbox, SyncCursor

__all__ = [
    "Card",
    "ClientLifecycle",
    "ClientRequest",
    "Connection",
    "ConsentRecord",
    "ConsentText",
    "Contact",
    "ContactIdentity",
    "ContactRelation",
    "CrmDealState",
    "DialogMessage",
    "ExternalRef",
    "Inbox",
    "LifecycleChange",
    "LifecyclePolicy",
    "Outbox",
    "Pass",
    "Product",
    "ProductCategory",
    "Purchase",
    "PurchaseLine",
    "Segment",
    "ServicePoint",
    "Stage",
    "SyncCursor",
    "Tag",
]
