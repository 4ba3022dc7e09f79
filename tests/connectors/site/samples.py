"""The order webhook sample of connectors/site/PROTOCOL.md, shared by the site's tests."""

ORDER = {"id": "evt-1", "type": "order.paid",
         "order": {"id": "1001", "event_id": "42", "created_at": "2026-12-01T10:00:00+03:00", "refunded_at": None,
                   "buyer": {"name": "Анна", "last_name": "Петрова", "phone": "+7 916 000-00-01",
                             "email": "anna@example.ru"},
                   "tickets": [{"product_id": "77", "name": "Взрослый билет", "price": "1500.00", "quantity": 2}],
                   "amount": "3000.00"}}
