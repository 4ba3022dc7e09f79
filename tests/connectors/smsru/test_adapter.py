"""The SMS.ru channel against the SMS.ru emulator over real HTTP: what is sent and how, and
every kind of trouble as the error the outbox acts on (refusals for people, in Russian)."""

import pytest

from connectors.smsru.adapter import SmsruChannel
from hub.services.connections import connection_upsert
from hub.sync import registry
from hub.sync.errors import AuthError, RateLimited, RetryableError
from mailings.ports import OutgoingMessage, SendRefused

pytestmark = pytest.mark.django_db

PHONE = "+79161234567"


def message(text="Скидка 10% в аквапарке!", address=PHONE, key="m-1"):
    return OutgoingMessage(key=key, address=address, text=text)


@pytest.fixture
def channel(smsru):
    return SmsruChannel(smsru.connection)


def test_send_returns_smsrus_id_and_the_sms_is_there(smsru, channel):
    provider_id = channel.send(message())
    [held] = smsru.state()["messages"]
    assert held["id"] == provider_id and held["phone"] == "79161234567"  # digits, no "+"
    assert held["text"] == "Скидка 10% в аквапарке!" and held["sender"] == ""
    assert smsru.sent() == [{"id": provider_id, "to": PHONE, "text": "Скидка 10% в аквапарке!", "buttons": []}]


def test_the_sender_name_from_settings(smsru):
    smsru.fault(senders=["Aquapark"])
    connection, _ = connection_upsert(name="SMS.ru", settings={"sender": "Aquapark"})
    SmsruChannel(connection).send(message())
    assert smsru.state()["messages"][0]["sender"] == "Aquapark"
    connection, _ = connection_upsert(name="SMS.ru", settings={"sender": "Чужое имя"})
    with pytest.raises(RetryableError) as not_approved:  # an operator fixes the name, then it goes
        SmsruChannel(connection).send(message())
    assert "имя отправителя" in str(not_approved.value)


def test_check_reports_the_balance(smsru, channel):
    assert channel.check() == "Баланс: 1000.00 ₽"
    channel.send(message())
    assert channel.check() == "Баланс: 996.50 ₽"
    result = registry.get("smsru").check_connection(smsru.connection)
    assert result.ok and "Баланс: 996.50 ₽" in result.message


def test_bad_credentials_are_an_auth_error(smsru):
    connection, _ = connection_upsert(name="SMS.ru", credentials={"api_id": "wrong"})
    channel = SmsruChannel(connection)
    with pytest.raises(AuthError) as refused:
        channel.check()
    assert "api_id" in str(refused.value)
    with pytest.raises(AuthError):
        channel.send(message())
    assert not registry.get("smsru").check_connection(connection).ok
    assert smsru.state()["messages"] == []


@pytest.mark.parametrize(("knob", "reason"), [
    ("forbidden", "нельзя отправлять"),
    ("invalid", "неправильно указан номер"),
    ("stoplist", "стоп-лист"),
])
def test_a_refused_number_is_send_refused_with_a_reason(smsru, channel, knob, reason):
    smsru.fault(**{knob: [PHONE]})
    with pytest.raises(SendRefused) as refused:
        channel.send(message())
    assert reason in refused.value.reason.lower()
    assert channel.send(message(address="+79160000001"))  # another number still goes


def test_a_phone_not_in_e164_or_an_empty_text_is_refused_before_calling(smsru, channel):
    for bad in ("89161234567", "+7916", "@user"):
        with pytest.raises(SendRefused) as refused:
            channel.send(message(address=bad))
        assert "+7" in refused.value.reason
    with pytest.raises(SendRefused):
        channel.send(message(text="  "))
    assert smsru.state()["requests"] == []


def test_low_balance_is_retried_with_a_clear_message(smsru, channel):
    smsru.fault(balance=0)
    with pytest.raises(RetryableError) as low:
        channel.send(message())
    assert not isinstance(low.value, RateLimited | AuthError)
    assert "пополните баланс" in str(low.value)


def test_429_is_rate_limited_with_retry_after(smsru, channel):
    smsru.fault(status=429, retry_after=30, times=1, path_prefix="/sms/send")
    with pytest.raises(RateLimited) as limited:
        channel.send(message())
    assert limited.value.retry_after == 30
    smsru.fault(status=429, times=1, path_prefix="/sms/send")  # no Retry-After: a short pause
    with pytest.raises(RateLimited) as paused:
        channel.send(message())
    assert paused.value.retry_after == 10
    assert channel.send(message())


def test_503_and_a_non_json_answer_are_retryable(smsru, channel):
    smsru.fault(status=503, times=1, path_prefix="/sms/send")
    with pytest.raises(RetryableError) as outage:
        channel.send(message())
    assert not isinstance(outage.value, RateLimited)
    smsru.fault(status=200, body="<html>maintenance</html>", times=1, path_prefix="/sms/send")
    with pytest.raises(RetryableError):
        channel.send(message())
    assert smsru.state()["messages"] == []


def test_credentials_and_phone_stay_out_of_urls_and_logs(smsru, channel, caplog):
    urls = []
    channel.client.session.hooks["response"].append(lambda response, *args, **kwargs: urls.append(response.url))
    caplog.set_level("DEBUG")
    channel.send(message())
    assert urls == [f"{smsru.url}/sms/send"]  # api_id, phone and text travel in the POST body
    assert "79161234567" not in caplog.text and "EMU-API-ID" not in caplog.text
    assert "+7916*****67" in caplog.text  # masked: enough to tell numbers apart
