import math

import pytest

from bench.breakeven import (
    break_even_steps,
    overtaking_step,
    steps_to_break_even,
    time_to_first_result,
)


def cell(median_ms, build_s, first_s, warm=None, status="ok", spread=0.01):
    """A record whose samples sit at median_ms and median_ms * (1 +- spread)."""
    record = {
        "status": status,
        "latency_ms": {"median": median_ms},
        "samples_ms": [median_ms * (1 - spread), median_ms, median_ms * (1 + spread)] * 10,
        "build_s": build_s,
        "first_call_s": first_s,
        "build_warm_s": None,
        "first_call_warm_s": None,
    }
    if warm is not None:
        record["build_warm_s"], record["first_call_warm_s"] = warm
    return record


EAGER = cell(10.0, 0.1, 0.1)  # starts in 0.2 s, 10 ms a step


def test_pays_back_after_the_extra_start_over_the_saving():
    # 10.2 s more to start, 6 ms saved per step: 1700 steps.
    static = cell(4.0, 0.2, 10.2)
    assert break_even_steps(EAGER, static) == (1700, "steps until the first call is paid back")


def test_rounds_up_to_whole_steps():
    steps, _ = break_even_steps(EAGER, cell(9.0, 0.1, 0.1015))
    assert steps == 2  # 1.5 ms extra / 1 ms saved


def test_never_when_not_faster():
    steps, note = break_even_steps(EAGER, cell(12.0, 0.1, 5.0))
    assert steps == math.inf and note.startswith("never")


def test_never_when_the_gain_is_within_the_noise():
    # Median 0.2% faster, but samples spread +-10%: the interval of the ratio spans 1.
    static = cell(9.98, 0.1, 5.0, spread=0.1)
    eager = cell(10.0, 0.1, 0.1, spread=0.1)
    assert steps_to_break_even(5.1, 0.2, 9.98, 10.0) > 200_000  # what medians alone say
    steps, note = break_even_steps(eager, static)
    assert steps == math.inf
    assert note.startswith("never: per-step gain within the noise: static/eager median 0.998")


def test_a_small_gain_counts_when_it_is_measurable():
    # The same 0.2% with samples that barely vary: a real, measurable gain.
    static = cell(9.98, 0.1, 5.0, spread=0.0001)
    steps, note = break_even_steps(cell(10.0, 0.1, 0.1, spread=0.0001), static)
    assert steps == pytest.approx(245_000, abs=1)
    assert note == "steps until the first call is paid back"


def test_zero_when_it_starts_no_slower():
    assert break_even_steps(EAGER, cell(5.0, 0.05, 0.1))[0] == 0


def test_never_when_slower_per_step_even_if_it_starts_sooner():
    steps, note = break_even_steps(EAGER, cell(12.0, 0.05, 0.1))
    assert steps == math.inf and note.startswith("never")


def test_warm_start_uses_the_warm_first_call():
    static = cell(4.0, 0.2, 10.2, warm=(0.2, 0.62))
    assert time_to_first_result(static, warm=True) == pytest.approx(0.82)
    assert break_even_steps(EAGER, static, warm=True)[0] == 104  # 0.62 s / 6 ms, rounded up


def test_missing_numbers_give_none():
    assert break_even_steps(EAGER, cell(4.0, 0.2, 1.0), warm=True) == (
        None,
        "no warm start measured",
    )
    assert break_even_steps(EAGER, cell(4.0, 0.2, 1.0, status="failed"))[0] is None


@pytest.mark.parametrize(
    "static_first, eager_first, static_ms, eager_ms, expected",
    [
        (2.0, 0.5, 1.0, 2.0, 1500.0),  # 1.5 s more to start, 1 ms saved per step
        (2.0, 0.5, 2.0, 2.0, math.inf),  # not faster: never
        (2.0, 0.5, 3.0, 2.0, math.inf),  # slower: never, never negative
        (0.1, 0.5, 3.0, 2.0, math.inf),  # cheaper to start but slower per step: never
        (0.1, 0.5, 1.0, 2.0, 0.0),  # cheaper to start and faster: ahead at once
    ],
)
def test_steps_to_break_even(static_first, eager_first, static_ms, eager_ms, expected):
    assert steps_to_break_even(static_first, eager_first, static_ms, eager_ms) == expected


def test_overtaking_step_is_where_the_static_stream_stays_ahead():
    eager = [10.0] * 6
    # Compiles at steps 1 and 3, then 2 ms a step: cumulative 50, 52, 82, 84, 86, 88 vs 60.
    assert overtaking_step(eager, [50, 2, 30, 2, 2, 2]) is None  # 88 > 60 at the end
    # 25, 27, 29, 31, 33, 35 vs 10, 20, 30, 40, 50, 60: behind at steps 1-2, ahead from 3.
    assert overtaking_step(eager, [25, 2, 2, 2, 2, 2]) == 3
    assert overtaking_step(eager, [5, 5, 5, 5, 5, 5]) == 1  # never behind
    # Ahead, then a recompile late in the stream puts it behind again, then ahead: step 6.
    assert overtaking_step(eager, [2, 2, 2, 2, 50, 2]) == 6
    with pytest.raises(ValueError, match="different lengths"):
        overtaking_step([1.0], [1.0, 2.0])
