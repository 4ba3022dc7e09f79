"""The Green-API adapter against the Green-API emulator over real HTTP: a text goes into the
queue with the right chat id, the provider's answers become the engine's typed errors, a
refusal becomes SendRefused with a reason for people, and the token never shows in an error."""

import pytest

from connectors.greenapi.adapter import GreenApiChannel
from hub.services.connections import connection_upsert
from hub.sync.errors import AuthError, FatalError, RateLimited, RetryableError, SyncError
from mailings.ports import OutgoingMessage, SendRefused

pytestmark = pytest.mark.django_db

PHONE = "+79161234567"


def message(address=PHONE, text="Скидка 10% до воскресенья", key="msg:1"):
    return OutgoingMessage(key=key, address=address, text=text)


@pytest.fixture
def channel(greenapi):
    return GreenApiChannel(greenapi.connection)


def test_send_returns_the_id_and_the_provider_holds_the_message(greenapi, channel):
    provider_id = channel.send(message())
    assert provider_id and greenapi.sent() == [{"id": provider_id, "to": PHONE, "text": "Скидка 10% до воскресенья",
                                                 "buttons": []}]
    assert greenapi.state()["messages"][0]["chatId"] == "79161234567@c.us"


def test_429_is_rate_limited_with_retry_after(greenapi, channel):
    greenapi.fault(status=429, times=1, retry_after=30)
    with pytest.raises(RateLimited) as limited:
        channel.send(message())
    assert limited.value.retry_after == 30
    greenapi.fault(status=429, times=3)  # no Retry-After: a second is waited out here, twice, then handed on
    with pytest.raises(RateLimited) as again:
        channel.send(message())
    assert again.value.retry_after == 1.0
    assert greenapi.sent() == []
    assert channel.send(message())  # the limit is gone


def test_503_and_500_are_retryable_not_rate_limited(greenapi, channel):
    for status in (503, 500):
        greenapi.fault(status=status, times=1)
        with pytest.raises(RetryableError) as failed:
            channel.send(message())
        assert not isinstance(failed.value, RateLimited) and str(status) in str(failed.value)
        assert "emu-token" not in str(failed.value)


def test_a_timeout_is_retryable_and_does_not_show_the_token(greenapi, channel):
    channel.client.timeout = (2.0, 0.2)
    greenapi.fault(latency_ms=600, times=1)
    with pytest.raises(RetryableError) as timed_out:
        channel.send(message())
    assert "timeout" in str(timed_out.value) and "emu-token" not in str(timed_out.value)
    assert "***" in str(timed_out.value)


def test_a_bad_token_is_an_auth_error(greenapi):
    connection, _ = connection_upsert(name="Green-API wrong", system="greenapi", base_url=greenapi.url,
                                      credentials={"id_instance": "1101000001", "api_token": "wrong"},
                                      settings={"rate_limit": "1000/second"})
    channel = GreenApiChannel(connection)
    for call in (lambda: channel.send(message()), channel.check):
        with pytest.raises(AuthError) as refused:
            call()
        assert "apiTokenInstance" in str(refused.value) and "wrong" not in str(refused.value)
    empty, _ = connection_upsert(name="Green-API empty", system="greenapi", base_url=greenapi.url)
    with pytest.raises(AuthError):
        GreenApiChannel(empty).send(message())


def test_a_bad_number_is_refused_with_a_reason(greenapi, channel):
    with pytest.raises(SendRefused) as provider:  # Green-API's own validation (HTTP 400)
        channel.send(message(address="+7912345"))
    assert provider.value.reason.startswith("Green-API отклонил сообщение: неверный номер")
    with pytest.raises(SendRefused) as local:  # not a phone at all: nothing is sent
        channel.send(message(address="@someone"))
    assert "не похож на номер телефона" in local.value.reason
    assert greenapi.sent() == []


def test_no_whatsapp_on_the_number_is_accepted_now_and_reported_later(greenapi, channel):
    greenapi.fault(no_whatsapp=[PHONE])
    assert channel.send(message())  # Green-API queues it; the noAccount status comes as a webhook


def test_the_developer_plan_limit_is_a_refusal(greenapi, channel):
    greenapi.fault(correspondents_limit=1)
    channel.send(message())
    with pytest.raises(SendRefused) as refused:
        channel.send(message(address="+79160000001"))
    assert "тарифа «Разработчик»" in refused.value.reason and "Monthly quota" in refused.value.reason


def test_check_describes_the_instance(greenapi, channel):
    assert channel.check() == "Инстанс авторизован. Внимание: не задан адрес вебхука (webhookUrl)."
    greenapi.fault(webhook_url="https://hub.example/hooks/greenapi/x/")
    assert channel.check() == "Инстанс авторизован."
    greenapi.fault(settings={"outgoingWebhook": "no"})
    assert "outgoingWebhook" in channel.check()
    greenapi.fault(state_instance="notAuthorized")
    with pytest.raises(AuthError, match="QR"):
        channel.check()
    greenapi.fault(state_instance="starting")
    with pytest.raises(RetryableError, match="запускается"):
        channel.check()
    greenapi.fault(state_instance="yellowCard")
    assert "yellowCard" in channel.check()


def test_check_connection_through_the_connector(greenapi):
    from hub.sync import registry

    result = registry.get("greenapi").check_connection(greenapi.connection)
    assert result.ok and result.message.startswith("Green-API: подключение работает. Инстанс авторизован")
    greenapi.fault(state_instance="blocked")
    result = registry.get("greenapi").check_connection(greenapi.connection)
    assert not result.ok and "заблокирован" in result.message


def test_errors_are_sync_errors_or_refusals(greenapi, channel):
    greenapi.fault(status=404, times=1)
    with pytest.raises(FatalError):
        channel.send(message())
    assert issubclass(RateLimited, SyncError)
