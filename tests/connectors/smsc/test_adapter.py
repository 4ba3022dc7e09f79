"""The SMSC channel against the SMSC emulator over real HTTP: what is sent and how (UTF-8
declared, the hub's key as SMSC's id), and every kind of trouble as the error the outbox acts
on (refusals for people, in Russian)."""

import pytest

from connectors.smsc import mapping
from connectors.smsc.adapter import SmscChannel
from hub.services.connections import connection_upsert
from hub.sync import registry
from hub.sync.errors import AuthError, RateLimited, RetryableError
from mailings.ports import OutgoingMessage, SendRefused

pytestmark = pytest.mark.django_db

PHONE = "+79161234567"


def message(text="Ждём вас в аквапарке!", address=PHONE, key="m-1"):
    return OutgoingMessage(key=key, address=address, text=text)


@pytest.fixture
def channel(smsc):
    return SmscChannel(smsc.connection)


def test_send_returns_the_id_and_the_sms_is_there(smsc, channel):
    provider_id = channel.send(message())
    assert provider_id == "m-1"  # the hub's key fits SMSC's id rules: it is the id
    [held] = smsc.state()["messages"]
    assert (held["id"], held["phone"], held["text"], held["sender"]) == ("m-1", "79161234567",
                                                                         "Ждём вас в аквапарке!", "")
    assert smsc.sent() == [{"id": "m-1", "to": PHONE, "text": "Ждём вас в аквапарке!", "buttons": []}]


def test_a_key_smsc_would_not_take_is_digested(smsc, channel):
    key = "birthday:2026-05-01:contact:42/" + "x" * 60
    provider_id = channel.send(message(key=key))
    assert provider_id == mapping.message_id(key) and len(provider_id) == 40 and provider_id.startswith("h")
    assert mapping.message_id(key) == provider_id  # the same key, the same id
    assert mapping.message_id("99999999999").startswith("h")  # digits only: SMSC would read a number
    assert smsc.state()["messages"][0]["id"] == provider_id


def test_the_sender_name_from_settings(smsc):
    connection, _ = connection_upsert(name="SMSC", settings={"sender": "SMSC.RU"})
    SmscChannel(connection).send(message())
    assert smsc.state()["messages"][0]["sender"] == "SMSC.RU"


def test_check_reports_the_balance(smsc, channel):
    assert channel.check() == "Баланс: 1000.00 ₽"
    channel.send(message())
    assert channel.check() == "Баланс: 997.50 ₽"
    result = registry.get("smsc").check_connection(smsc.connection)
    assert result.ok and "Баланс: 997.50 ₽" in result.message


def test_bad_credentials_are_an_auth_error(smsc):
    connection, _ = connection_upsert(name="SMSC", credentials={"password": "wrong"})
    channel = SmscChannel(connection)
    with pytest.raises(AuthError) as refused:
        channel.check()
    assert "логин или пароль" in str(refused.value)
    with pytest.raises(AuthError):
        channel.send(message())
    assert smsc.state()["messages"] == []


@pytest.mark.parametrize(("spec", "reason"), [
    ({"invalid": [PHONE]}, "неверный формат номера"),
    ({"forbidden": [PHONE]}, "не может быть доставлено"),
    ({"forbidden_words": ["аквапарк"]}, "запретил сообщение"),
])
def test_a_refused_message_is_send_refused_with_a_reason(smsc, channel, spec, reason):
    smsc.fault(**spec)
    with pytest.raises(SendRefused) as refused:
        channel.send(message())
    assert reason in refused.value.reason.lower()


def test_a_phone_not_in_e164_or_an_empty_text_is_refused_before_calling(smsc, channel):
    for bad in ("89161234567", "+7916", "79161234567"):
        with pytest.raises(SendRefused) as refused:
            channel.send(message(address=bad))
        assert "+7" in refused.value.reason
    with pytest.raises(SendRefused):
        channel.send(message(text=""))
    assert smsc.state()["requests"] == []


def test_low_balance_is_retried_with_a_clear_message(smsc, channel):
    smsc.fault(balance=0)
    with pytest.raises(RetryableError) as low:
        channel.send(message())
    assert not isinstance(low.value, RateLimited | AuthError)
    assert "пополните баланс" in str(low.value)


def test_error_9_and_429_are_rate_limited_with_retry_after(smsc, channel):
    channel.send(message())
    with pytest.raises(RateLimited) as repeated:  # the identical request again within a minute
        channel.send(message())
    assert repeated.value.retry_after == 60
    smsc.fault(status=429, retry_after=30, times=1, path_prefix="/sys/send.php")
    with pytest.raises(RateLimited) as limited:
        channel.send(message(key="m-2"))
    assert limited.value.retry_after == 30
    assert channel.send(message(key="m-2")) == "m-2"


def test_503_and_a_non_json_answer_are_retryable(smsc, channel):
    smsc.fault(status=503, times=1, path_prefix="/sys/send.php")
    with pytest.raises(RetryableError) as outage:
        channel.send(message())
    assert not isinstance(outage.value, RateLimited)
    smsc.fault(status=200, body="<html>maintenance</html>", times=1, path_prefix="/sys/send.php")
    with pytest.raises(RetryableError):
        channel.send(message())
    assert smsc.state()["messages"] == []


def test_credentials_and_phone_stay_out_of_urls_and_logs(smsc, channel, caplog):
    urls = []
    channel.client.session.hooks["response"].append(lambda response, *args, **kwargs: urls.append(response.url))
    caplog.set_level("DEBUG")
    channel.send(message())
    assert urls == [f"{smsc.url}/sys/send.php"]
    assert "79161234567" not in caplog.text and "emu-password" not in caplog.text
    assert "+7916*****67" in caplog.text
