import logging

from hub.logging import PiiMaskingFilter, mask_email, mask_phone


def test_masks_keep_numbers_distinguishable_but_unusable():
    assert mask_phone("+79123456789") == "+7912*****89"
    assert mask_email("anna.ivanova@example.ru") == "a***@example.ru"


def test_filter_masks_phones_and_emails_in_rendered_messages():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "client %s wrote from %s", ("+7 912 345-67-89",
                               "anna@example.ru"), None)
    PiiMaskingFilter().filter(record)
    message = record.getMessage()
    assert "345-67" not in message and "anna@" not in message
    assert "a***@example.ru" in message
