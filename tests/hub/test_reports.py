"""The shared chart's axis: round tops, and whole numbers on axes that count things."""

from decimal import Decimal

import pytest

from hub.reports import BarSpec, GroupSpec, bar_chart, scale_top


@pytest.mark.parametrize(("largest", "whole", "top"), [
    (Decimal("7"), False, 8), (Decimal("7"), True, 8), (Decimal("9"), True, 12), (Decimal("9"), False, 10),
    (Decimal("0"), True, 4), (Decimal("37"), True, 40), (Decimal("990"), False, 1000), (Decimal("990"), True, 1000),
])
def test_the_axis_top_is_round_and_whole_when_counting(largest, whole, top):
    assert scale_top(largest, whole) == top
    if whole:
        assert top % 4 == 0


def test_a_count_axis_has_no_fractional_ticks():
    groups = [GroupSpec(label="10:00", sublabel="", bars=(BarSpec("in", Decimal(9), "9"),))]
    assert [t.label for t in bar_chart(groups, whole=True).ticks] == ["0", "3", "6", "9", "12"]
    assert [t.label for t in bar_chart(groups).ticks] == ["0", "2,50", "5", "7,50", "10"]
