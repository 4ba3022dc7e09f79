"""The MAXMA adapter against the MAXMA emulator over real HTTP: the two-phase purchase made
once however often it is retried, returns by transaction id, grants made once although
adjust-balance has no idempotency key, refusals as messages for people, and the history read
as lines keyed like the hub's, with ids that stay the same from read to read.

The emulated program: 5 % earned on the money paid, at most 50 % of a check payable by bonuses."""

from decimal import Decimal

import pytest

from connectors.maxma import mapping
from connectors.maxma.adapter import MaxmaProgram
from hub.services.connections import connection_upsert
from hub.sync.errors import AuthError, RetryableError
from loyalty.ports import ClientNotFound, ProgramClient, ProgramError, ProgramLine
from tests.bonus_programs import bonus_side

pytestmark = pytest.mark.django_db

PHONE, OTHER = "+79161234567", "+79160000001"
D = Decimal


@pytest.fixture
def maxma(db):
    with bonus_side("maxma") as side:
        yield side


@pytest.fixture
def program(maxma):
    return MaxmaProgram(maxma.connection)


def check(*prices) -> list[ProgramLine]:
    return [ProgramLine(sku=f"SKU-{n}", name=f"Позиция {n}", price=D(price)) for n, price in enumerate(prices, 1)]


def test_calculate_confirm_refund_round_trip(maxma, program):
    maxma.join(PHONE, 500)
    client = program.find_client(PHONE)
    assert (client.id, client.phone) == (PHONE, PHONE) and program.balance(client).available == D(500)

    quote = program.calculate(client, check(600, 400), D(200))
    assert (quote.total, quote.max_points, quote.earn_points, quote.balance) == (D(1000), D(500), D(40), D(500))
    purchase = program.confirm(client, "order:T-1", check(600, 400), D(200))
    assert (purchase.id, purchase.redeemed, purchase.earned) == ("order:T-1", D(200), D(40))
    assert maxma.balance(PHONE) == D(340) and maxma.purchases() == 1

    part = program.refund(purchase.id, "refund:T-1:a", D(400))  # half the 800 paid
    assert (part.id, part.returned, part.cancelled) == ("refund:T-1:a", D(100), D(20))
    assert maxma.balance(PHONE) == D(420)
    again = program.refund(purchase.id, "refund:T-1:a", D(400))  # the answer was lost: returned once
    assert again == part and maxma.balance(PHONE) == D(420)

    rest = program.refund(purchase.id, "refund:T-1:b")  # all that is left
    assert (rest.returned, rest.cancelled) == (D(100), D(20)) and maxma.balance(PHONE) == D(500)
    assert program.refund(purchase.id, "refund:T-1:b") == rest  # a retry after everything went back
    with pytest.raises(ProgramError) as nothing_left:
        program.refund(purchase.id, "refund:T-1:c")
    assert nothing_left.value.message.startswith("MAXMA: сумма возврата больше")
    returns = maxma.state()["returns"]
    assert [r["id"] for r in returns] == ["refund:T-1:a", "refund:T-1:b"]


def test_a_full_refund_at_once_gives_everything_back(maxma, program):
    maxma.join(PHONE, 300)
    client = program.find_client(PHONE)
    purchase = program.confirm(client, "order:T-2", check("1234.56"), D(100))
    assert (purchase.redeemed, purchase.earned) == (D(100), D(56))  # 5 % of 1134.56
    refund = program.refund(purchase.id, "refund:T-2")
    assert (refund.returned, refund.cancelled) == (D(100), D(56)) and maxma.balance(PHONE) == D(300)


def test_a_repeated_confirm_is_one_purchase(maxma, program):
    maxma.join(PHONE, 500)
    client = program.find_client(PHONE)
    first = program.confirm(client, "order:T-3", check(1000), D(100))
    again = program.confirm(client, "order:T-3", check(1000), D(100))  # set-purchase answers 17
    assert again == first and maxma.purchases() == 1 and maxma.balance(PHONE) == D(445)

    # The answer of confirm-ticket is lost: the purchase is made there, the retry finds it.
    maxma.fault(status=503, after=True, path_prefix="/confirm-ticket", times=1)
    with pytest.raises(RetryableError):
        program.confirm(client, "order:T-4", check(500), D(50))
    retried = program.confirm(client, "order:T-4", check(500), D(50))
    assert (retried.id, retried.redeemed, retried.earned) == ("order:T-4", D(50), D(22))
    assert maxma.purchases() == 2 and maxma.balance(PHONE) == D(417)

    # set-purchase's answer is lost: the same check again gets the same ticket, then confirmed.
    maxma.fault(status=503, after=True, path_prefix="/set-purchase", times=1)
    with pytest.raises(RetryableError):
        program.confirm(client, "order:T-5", check(200), D(0))
    assert program.confirm(client, "order:T-5", check(200), D(0)).earned == D(10)
    assert maxma.purchases() == 3
    assert len([p for p in maxma.state()["purchases"] if p["txid"] == "order:T-5"]) == 1


def test_a_grant_whose_answer_was_lost_is_made_once(maxma, program):
    maxma.join(PHONE, 0)
    client = program.find_client(PHONE)
    maxma.fault(status=503, after=True, path_prefix="/adjust-balance", times=1)
    with pytest.raises(RetryableError):
        program.adjust(client, D(70), "Подарок", "admin:lost")
    assert maxma.balance(PHONE) == D(70)  # made there, the answer lost
    operation = program.adjust(client, D(70), "Подарок", "admin:lost")
    assert maxma.balance(PHONE) == D(70)  # not granted twice
    assert (operation.points, operation.kind, operation.key, operation.comment) == (D(70), "adjust", "admin:lost",
                                                                                   "Подарок")
    line = maxma.state()["history"][PHONE][0]
    assert line["OPERATION_RECEIVED"]["comment"] == "Подарок [hub:admin:lost]"
    assert program.adjust(client, D(70), "Подарок", "admin:lost") == operation
    with pytest.raises(ProgramError) as conflict:  # the same key for another amount
        program.adjust(client, D(80), "Подарок", "admin:lost")
    assert "уже использован" in conflict.value.message

    taken = program.adjust(client, D(-20), "", "admin:minus")
    assert (taken.points, taken.key, taken.comment) == (D(-20), "admin:minus", "")
    assert maxma.balance(PHONE) == D(50)


def test_refusals_are_messages_for_people(maxma, program):
    assert program.find_client(OTHER) is None
    maxma.join(PHONE, 10)
    client = program.find_client(PHONE)

    with pytest.raises(ProgramError) as not_enough:
        program.adjust(client, D(-50), "списание", "k-1")
    assert not_enough.value.message.startswith("В MAXMA недостаточно баллов для списания. Списать 50 нельзя")
    assert not_enough.value.code == "6" and not not_enough.value.retryable

    with pytest.raises(ProgramError) as too_many:
        program.confirm(client, "order:T-6", check(1000), D(400))
    assert too_many.value.message.startswith("Нельзя оплатить баллами 400: по этому чеку MAXMA позволяет "
                                             "списать не больше 10")
    with pytest.raises(ProgramError) as quoted:
        program.calculate(client, check(1000), D(400))
    assert quoted.value.message == too_many.value.message
    assert maxma.purchases() == 0 and maxma.balance(PHONE) == D(10)

    with pytest.raises(ProgramError) as fractional:
        program.adjust(client, D("1.5"), "", "k-2")
    assert "целыми баллами" in fractional.value.message
    with pytest.raises(ProgramError) as unknown:
        program.refund("order:nope", "refund:nope")
    assert unknown.value.message.startswith("Покупка не найдена в MAXMA.") and unknown.value.code == "21"
    with pytest.raises(ClientNotFound) as missing:
        program.balance(ProgramClient(id=OTHER))
    assert missing.value.message.startswith("Клиент не найден в MAXMA.")
    with pytest.raises(ProgramError) as long_key:
        program.confirm(client, "x" * 129, check(100), D(0))
    assert "длиннее 128" in long_key.value.message
    assert "принят" in program.check()

    wrong, _ = connection_upsert(name="MAXMA wrong key", system="maxma", base_url=maxma.url,
                                 credentials={"processing_key": "wrong"}, settings={"rate_limit": "1000/second"})
    with pytest.raises(AuthError) as bad_key:
        MaxmaProgram(wrong).check()
    assert "ключ обработки" in str(bad_key.value)


def test_clients_are_registered_once(maxma, program):
    created = program.create_client(PHONE, name="Анна Иванова", email="anna@example.com")
    assert (created.id, created.name) == (PHONE, "Анна Иванова")
    again = program.create_client("8 (916) 123-45-67", name="Анна")  # 24: the one already there
    assert again.id == PHONE and len(maxma.state()["clients"]) == 1
    other = program.create_client(OTHER, email="ANNA@example.com")  # the email is someone else's
    assert other.id == OTHER and "email" not in maxma._client(OTHER)


def test_balance_has_pending_and_the_next_burn_dates(maxma, program):
    maxma.fault(bonus_lifetime_days=30, pending_days=14)
    maxma.join(PHONE, 0)
    client = program.find_client(PHONE)
    program.adjust(client, D(100), "", "admin:b1")  # lives 30 days
    program.confirm(client, "order:T-7", check(1000), D(0))  # 50 pending for 14 days
    balance = program.balance(client)
    assert (balance.available, balance.pending) == (D(100), D(50))
    assert [points for _, points in balance.expiring] == [D(100)]


def test_history_is_keyed_like_the_hub_with_stable_ids(maxma, program):
    maxma.join(PHONE, 0)
    client = program.find_client(PHONE)
    program.adjust(client, D(500), "Компенсация", "admin:h1")
    purchase = program.confirm(client, "order:T-8", check(1000), D(200))
    program.refund(purchase.id, "refund:T-8", D(400))
    maxma.operate(PHONE, 10, "Касса")  # the venue, twice the same in one second
    maxma.operate(PHONE, 10, "Касса")
    lines = program.history(client)
    assert [(op.kind, op.points, op.key) for op in lines] == [
        ("adjust", D(10), ""), ("adjust", D(10), ""),
        ("refund", D(-20), "refund:T-8:cancel"), ("refund", D(100), "refund:T-8:return"),
        ("earn", D(40), "order:T-8:earn"), ("redeem", D(-200), "order:T-8:redeem"),
        ("adjust", D(500), "admin:h1")]
    assert lines[0].comment == "Касса" and lines[-1].comment == "Компенсация"
    assert lines[4].comment == "Начисление за покупку order:T-8" and lines[0].at is not None
    ids = [op.id for op in lines]
    assert len(set(ids)) == len(ids) and all(len(i) <= 100 for i in ids)
    assert [op.id for op in program.history(client)] == ids  # the same on every read
    for size in (1, 2, 3):  # and page by page, also with the two identical lines on different pages
        assert [op.id for n in range(0, 7, size) for op in program.history(client, offset=n, limit=size)] == ids

    maxma.operate(PHONE, -5, "Касса: списание")
    newer = program.history(client, limit=3)
    assert newer[0].points == D(-5) and [op.id for op in newer[1:]] == ids[:2]

    left = maxma.balance(PHONE)
    maxma.fault(advance_days=400)  # everything left burns
    everything = program.history(client)
    burnt = everything[:len(everything) - len(lines) - 1]
    assert burnt and {op.kind for op in burnt} == {"expire"}
    assert sum(op.points for op in burnt) == -left and maxma.balance(PHONE) == 0


def test_the_marker_is_split_from_the_comment():
    assert mapping.split_marker("Подарок [hub:admin:k1]") == ("Подарок", "admin:k1")
    assert mapping.split_marker("[hub:a[b]c]") == ("", "a[b]c")
    assert mapping.split_marker("Касса [hub:") == ("Касса [hub:", "")
    assert mapping.split_marker("Касса") == ("Касса", "")
    long = mapping.with_marker("я" * 400, "admin:k")
    assert len(long) == mapping.COMMENT_MAX and mapping.split_marker(long)[1] == "admin:k"

