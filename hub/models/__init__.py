from hub.models.catalog import Product, ProductCategory, ServicePoint
from hub.models.consent import ConsentRecord, ConsentText
from hub.models.contacts import Card, Contact, ContactIdentity, ContactRelation, Tag
from hub.models.dialogs import DialogMessage
from hub.models.requests import ClientRequest
from hub.models.sales import Pass, Purchase, PurchaseLine
from hub.models.segments import Segment
from hub.models.sync import Connection, CrmDealState, ExternalRef, Inbox, Outbox, SyncCursor

__all__ = [
    "Card",
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
    "Outbox",
    "Pass",
    "Product",
    "ProductCategory",
    "Purchase",
    "PurchaseLine",
    "Segment",
    "ServicePoint",
    "SyncCursor",
    "Tag",
]
