"""The Wazzup adapter against the Wazzup emulator over real HTTP: a text goes out through the
configured channel with the hub's key as crmMessageId (a retry is not sent twice), Wazzup's
answers become the engine's typed errors, and refusals become SendRefused with a reason."""

import pytest

from connectors.wazzup.adapter import WazzupChannel
from hub.services.connections import connection_upsert
from hub.sync.errors import AuthError, FatalError, RateLimited, RetryableError
from mailings.ports import OutgoingMessage, SendRefused
from tests.connectors.wazzup.side import CHANNEL_ID

pytestmark = pytest.mark.django_db

PHONE = "+79161234567"


def message(address=PHONE, text="Скидка 10% до воскресенья", key="msg:1"):
    return OutgoingMessage(key=key, address=address, text=text)


@pytest.fixture
def channel(wazzup):
    return WazzupChannel(wazzup.connection)


def test_send_returns_the_id_and_the_provider_holds_the_message(wazzup, channel):
    provider_id = channel.send(message())
    assert wazzup.sent() == [{"id": provider_id, "to": PHONE, "text": "Скидка 10% до воскресенья", "buttons": []}]
    [stored] = wazzup.state()["messages"]
    assert (stored["channelId"], stored["chatType"], stored["chatId"], stored["crmMessageId"]) == (
        CHANNEL_ID, "whatsapp", "79161234567", "msg:1")


def test_a_retry_after_a_lost_answer_is_not_sent_twice(wazzup, channel):
    wazzup.fault(status=502, times=1, after=True)  # Wazzup sent it, the answer was lost
    with pytest.raises(RetryableError):
        channel.send(message())
    assert channel.send(message()) == "crm:msg:1"  # repeatedCrmMessageId: it went out the first time
    assert len(wazzup.sent()) == 1


def test_429_is_rate_limited_with_retry_after(wazzup, channel):
    wazzup.fault(status=429, times=1, retry_after=12)
    with pytest.raises(RateLimited) as limited:
        channel.send(message())
    assert limited.value.retry_after == 12
    wazzup.fault(status=429, times=1)  # no Retry-After: the 5-second window, handed to the outbox
    with pytest.raises(RateLimited) as window:
        channel.send(message())
    assert window.value.retry_after == 5.0
    assert wazzup.sent() == []


def test_503_and_500_are_retryable_not_rate_limited(wazzup, channel):
    for status in (503, 500):
        wazzup.fault(status=status, times=1)
        with pytest.raises(RetryableError) as failed:
            channel.send(message(key=f"k{status}"))
        assert not isinstance(failed.value, RateLimited)
    wazzup.fault(channel_state="phoneUnavailable")  # MESSAGE_CHANNEL_UNAVAILABLE: try again later
    with pytest.raises(RetryableError, match="недоступен"):
        channel.send(message())


def test_a_bad_key_is_an_auth_error(wazzup):
    connection, _ = connection_upsert(name="Wazzup wrong", system="wazzup", base_url=wazzup.url,
                                      credentials={"api_key": "wrong"},
                                      settings={"channel_id": CHANNEL_ID, "rate_limit": "1000/second"})
    channel = WazzupChannel(connection)
    for call in (lambda: channel.send(message()), channel.check):
        with pytest.raises(AuthError, match="ключ API"):
            call()


def test_a_misconfigured_channel_needs_an_operator(wazzup):
    connection, _ = connection_upsert(name="Wazzup other channel", system="wazzup", base_url=wazzup.url,
                                      credentials={"api_key": "emu-api-key"},
                                      settings={"channel_id": "00000000-0000-4000-8000-000000000000"})
    with pytest.raises(AuthError, match="channel_id"):
        WazzupChannel(connection).send(message())
    with pytest.raises(FatalError, match="не найден"):
        WazzupChannel(connection).check()
    wazzup.fault(channel_state="notEnoughMoney")
    with pytest.raises(AuthError, match="не оплачен"):
        WazzupChannel(wazzup.connection).send(message())


def test_a_bad_number_is_refused_with_a_reason(wazzup, channel):
    with pytest.raises(SendRefused) as provider:  # Wazzup's INVALID_MESSAGE_DATA
        channel.send(message(address="+7912345"))
    assert provider.value.reason.startswith("Wazzup отклонил сообщение: неверный номер")
    assert "chatId" in provider.value.reason
    with pytest.raises(SendRefused) as local:
        channel.send(message(address="Анна"))
    assert "не похож на номер телефона" in local.value.reason
    assert wazzup.sent() == []


def test_no_whatsapp_on_the_number_is_accepted_now_and_reported_later(wazzup, channel):
    wazzup.fault(no_whatsapp=[PHONE])
    assert channel.send(message())


def test_check_describes_the_channel(wazzup, channel):
    assert channel.check() == "Канал WhatsApp активен, номер +7986*****57."
    wazzup.fault(channel_state="qr")
    with pytest.raises(AuthError, match="QR"):
        channel.check()
    wazzup.fault(channel_state="init")
    with pytest.raises(RetryableError, match="запускается"):
        channel.check()
    connection, _ = connection_upsert(name="Wazzup no channel", system="wazzup", base_url=wazzup.url,
                                      credentials={"api_key": "emu-api-key"})
    with pytest.raises(FatalError, match=CHANNEL_ID):  # names the channels to choose from
        WazzupChannel(connection).check()


def test_check_connection_through_the_connector(wazzup):
    from hub.sync import registry

    result = registry.get("wazzup").check_connection(wazzup.connection)
    assert result.ok and result.message.startswith("Wazzup: подключение работает. Канал WhatsApp активен")
