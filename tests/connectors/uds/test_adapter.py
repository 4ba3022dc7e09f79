"""The UDS adapter against the UDS emulator over real HTTP: purchases by nonce, refunds and
rewards made once although UDS has no idempotency key for them, refusals as messages for
people, and the company-wide history read as one client's lines keyed like the hub's.

Base tier of the emulated company: cashback 5 %, at most 50 % of a bill payable by points."""

from decimal import Decimal

import pytest

from connectors.uds import mapping
from connectors.uds.adapter import UdsProgram
from hub.sync import registry
from hub.sync.errors import AuthError, RetryableError
from loyalty.ports import ProgramError, ProgramLine
from tests.bonus_programs import bonus_side

pytestmark = pytest.mark.django_db

PHONE, OTHER = "+79161234567", "+79160000001"
D = Decimal


@pytest.fixture
def uds(db):
    with bonus_side("uds") as side:
        yield side


@pytest.fixture
def program(uds):
    return UdsProgram(uds.connection)


def bill(total) -> list[ProgramLine]:
    return [ProgramLine(sku="1", name="Билет", price=D(total))]


def ops(uds, action=None):
    return [op for op in uds.state()["operations"] if action is None or op["action"] == action]


def test_calculate_confirm_refund_round_trip(uds, program):
    uds.join(PHONE, 300)
    client = program.find_client(PHONE)
    assert client.phone == PHONE and program.balance(client).available == D(300)

    quote = program.calculate(client, bill(1000), D(100))
    assert (quote.total, quote.max_points, quote.earn_points, quote.balance) == (D(1000), D(300), D(45), D(300))
    purchase = program.confirm(client, "order:T-1", bill(1000), D(100))
    assert (purchase.redeemed, purchase.earned) == (D(100), D(45))
    op = ops(uds, "PURCHASE")[0]
    assert str(op["id"]) == purchase.id and op["receiptNumber"] == "order:T-1"
    assert op["nonce"] == mapping.nonce("order:T-1") and (op["cash"], op["points"]) == (900, -100)
    assert uds.balance(PHONE) == D(245)

    part = program.refund(purchase.id, "refund:T-1:a", D(200))  # 20 % of the bill
    assert (part.returned, part.cancelled) == (D(20), D(9)) and uds.balance(PHONE) == D(256)
    reversal = next(op for op in ops(uds) if op["state"] == "REVERSAL")
    assert part.id == str(reversal["id"]) and reversal["origin"] == {"id": int(purchase.id)}
    again = program.refund(purchase.id, "refund:T-1:a", D(200))  # the answer was lost: not refunded twice
    assert again.id == part.id and again.returned == D(20) and uds.balance(PHONE) == D(256)

    rest = program.refund(purchase.id, "refund:T-1:b")  # the rest of it
    assert (rest.returned, rest.cancelled) == (D(80), D(36)) and uds.balance(PHONE) == D(300)
    assert program.refund(purchase.id, "refund:T-1:b").id == rest.id  # refunded in full: from the history
    assert len([op for op in ops(uds) if op["state"] == "REVERSAL"]) == 2 and uds.balance(PHONE) == D(300)


def test_a_repeated_confirm_is_the_same_purchase_even_when_its_points_are_spent(uds, program):
    uds.join(PHONE, 100)
    client = program.find_client(PHONE)
    first = program.confirm(client, "order:T-2", bill(1000), D(100))
    assert uds.balance(PHONE) == D(45)  # 100 spent, 5 % of 900 earned
    again = program.confirm(client, "order:T-2", bill(1000), D(100))  # its calc is refused now: 45 < 100
    assert again == first and uds.purchases() == 1 and uds.balance(PHONE) == D(45)


def test_a_long_key_becomes_a_hashed_receipt_number(uds, program):
    uds.join(PHONE)
    key = "order:" + "x" * 100
    program.confirm(program.find_client(PHONE), key, bill(100), D(0))
    number = ops(uds, "PURCHASE")[0]["receiptNumber"]
    assert number.startswith(mapping.HASHED_NUMBER) and len(number) <= mapping.RECEIPT_NUMBER_MAX


def test_a_reward_whose_answer_was_lost_is_granted_once(uds, program):
    uds.join(PHONE)
    client = program.find_client(PHONE)
    uds.fault(status=503, after=True, path_prefix="/partner/v2/operations/reward", times=1)
    with pytest.raises(RetryableError):
        program.adjust(client, D(70), "Подарок", "admin:lost")
    assert uds.balance(PHONE) == D(70)  # done there, the answer lost
    operation = program.adjust(client, D(70), "Подарок", "admin:lost")
    assert (operation.points, operation.key, operation.comment, operation.kind) == (D(70), "admin:lost", "Подарок",
                                                                                     "adjust")
    rewards = ops(uds, "REWARD")
    assert len(rewards) == 1 and str(rewards[0]["id"]) == operation.id and uds.balance(PHONE) == D(70)
    assert rewards[0]["comment"] == "Подарок [hub:admin:lost]"

    taken = program.adjust(client, D(-20), "Ошибка кассира", "admin:back")  # a deduction: the same call
    assert taken.points == D(-20) and uds.balance(PHONE) == D(50)


def test_refusals_are_clear_messages(uds, program):
    assert program.find_client("+79990000000") is None
    with pytest.raises(ProgramError) as cannot:
        program.create_client("+79990000000", name="Пётр")
    assert cannot.value.code == "cannot_register" and "приложении" in cannot.value.message

    uds.join(PHONE, 50)
    client = program.find_client(PHONE)
    with pytest.raises(ProgramError) as short:
        program.confirm(client, "order:T-3", bill(1000), D(400))
    assert short.value.code == "insufficientFunds" and not short.value.retryable
    assert short.value.message.startswith("В UDS у клиента недостаточно баллов")
    assert "HTTP" not in short.value.message and uds.purchases() == 0
    with pytest.raises(ProgramError) as capped:
        program.calculate(client, bill(60), D(40))  # 50 % of 60 at most
    assert capped.value.message.startswith("UDS: баллами можно оплатить только часть чека")

    with pytest.raises(ProgramError) as deduction:
        program.adjust(client, D(-500), "Списание", "admin:too-much")
    assert deduction.value.message == mapping.DEDUCTION_REFUSED and uds.balance(PHONE) == D(50)
    with pytest.raises(ProgramError) as missing:
        program.refund("1", "refund:nothing")
    assert missing.value.message.startswith("Операция не найдена в UDS")

    uds.fault(settings={"purchaseByPhone": False})
    with pytest.raises(ProgramError) as disabled:
        program.confirm(client, "order:T-4", bill(100), D(0))
    assert "UDS Business" in disabled.value.message
    assert "покупки по номеру телефона выключены" in program.check()


def test_history_is_the_clients_lines_newest_first_keyed_like_the_hub(uds, program):
    uds.join(PHONE, 300)
    uds.join(OTHER, 0)
    client = program.find_client(PHONE)
    purchase = program.confirm(client, "order:H-1", bill(1000), D(100))
    reward = program.adjust(client, D(50), "Подарок", "admin:h")
    for n in range(60):  # another client's operations in between: the history pages past them
        uds.operate(OTHER, 1, f"Касса {n}")
    uds.operate(PHONE, -25, "Касса: списание")
    refund = program.refund(purchase.id, "refund:H-1", D(200))

    lines = program.history(client)
    assert [(line.id, line.points, line.kind, line.key) for line in lines] == [
        (f"{refund.id}:cancel", D(-9), "refund", ""),
        (f"{refund.id}:return", D(20), "refund", ""),
        (lines[2].id, D(-25), "adjust", ""),
        (reward.id, D(50), "adjust", "admin:h"),
        (f"{purchase.id}:earn", D(45), "earn", "order:H-1:earn"),
        (f"{purchase.id}:redeem", D(-100), "redeem", "order:H-1:redeem"),
    ]
    assert lines[2].comment == "Касса: списание" and lines[3].comment == "Подарок" and lines[0].at is not None
    assert program.history(client, offset=3, limit=2) == lines[3:5]
    assert sum(line.points for line in lines) + 300 == program.balance(client).available == uds.balance(PHONE)
    assert len(program.history(program.find_client(OTHER), limit=50)) == 50


def test_requests_carry_a_fresh_request_id_and_time(uds, program):
    seen = []

    def spy(method, url, **kwargs):
        seen.append(kwargs["headers"])
        return original(method, url, **kwargs)

    original = program.client.session.request
    program.client.session.request = spy
    assert program.find_client("+79990000000") is None
    program.check()
    assert len({h[mapping.REQUEST_ID_HEADER] for h in seen}) == 2 and all(h[mapping.TIMESTAMP_HEADER] for h in seen)
    assert all(h["Authorization"].startswith("Basic ") for h in seen)


def test_a_wrong_key_is_an_auth_error_not_a_refusal(uds):
    uds.connection.credentials = {**uds.connection.credentials, "api_key": "nope"}
    with pytest.raises(AuthError):
        UdsProgram(uds.connection).check()


def test_the_connector_is_registered_checks_the_account_and_refuses_webhooks(uds, client):
    connector = registry.get("uds")
    assert isinstance(connector.bonus_program(uds.connection), UdsProgram)
    checked = connector.check_connection(uds.connection)
    assert checked.ok and checked.message.startswith("UDS: подключение работает")
    assert client.post(uds.connection.webhook_path, b"{}", content_type="application/json").status_code == 404
