"""Derived numbers (bench.analysis.metrics) from hand-made results: speedups, noise, break-even,
the stream's totals and the overtaking step; property tests for the pure formulas."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.analysis import metrics
from bench.analysis.metrics import Baselines, BreakEvenKind, OvertakeKind
from bench.matrix.cells import Cell
from bench.results.record import (
    Build,
    CellResult,
    FirstCall,
    Outcome,
    Passes,
    Status,
    Steady,
    WarmStart,
)


def fixed(backend, median_ms, build_s=0.1, first_s=0.1, warm=None, status=Status.OK,
          spread=0.01, batch=8):  # fmt: skip
    """A fixed-shape result whose samples sit at median_ms and median_ms * (1 +- spread)."""
    samples = [median_ms * (1 - spread), median_ms, median_ms * (1 + spread)] * 10
    cell = Cell("mlp", backend, "infer", "cpu", batch, "quick")
    return CellResult(
        "run",
        cell,
        Outcome(status),
        build=Build(build_s, 1_000_000),
        first_call=FirstCall(first_s),
        steady=Steady([], samples if status is Status.OK else [], 30, 0.3, 1),
        warm=WarmStart("cache", *warm) if warm else None,
    )


EAGER = fixed("torch-eager", 10.0)  # starts in 0.2 s, 10 ms a step


def test_the_start_counts_the_warm_up_steps_until_the_step_time_settles():
    # CUDA graphs recorded on the 2nd and 3rd calls: two slow warm-up steps, then steady.
    r = fixed("torch-compile-reduce-overhead", 10.0, build_s=1.0, first_s=5.0)
    warmup = [300.0, 200.0, 10.1, 11.0, 9.9]
    steady = Steady(warmup, r.steady.samples_ms, 30, 0.3)
    r = CellResult(
        r.run_id, r.cell, r.outcome, build=r.build, first_call=r.first_call, steady=steady
    )
    assert metrics.settle_steps([300.0, 200.0, 10.1, 11.0, 9.9], r.steady.samples_ms) == 2
    assert metrics.time_to_steady_state(r) == pytest.approx(1.0 + 5.0 + 0.5)
    assert metrics.settle_steps([10.0, 10.0], [10.0] * 5) == 0  # steady from the start
    assert metrics.settle_steps([10.0, 50.0], [10.0] * 5) == 2  # still slow at the end


def test_latency_throughput_and_flops():
    r = fixed("torch-compile", 4.0)
    assert metrics.median_ms(r) == pytest.approx(4.0)
    assert metrics.latency(r).n == 30
    assert metrics.throughput_per_s(r) == pytest.approx(30 * 8 / 0.3)
    assert metrics.achieved_flops_per_s(r) == pytest.approx(1_000_000 / 0.004)
    assert metrics.median_ms(fixed("torch-compile", 4.0, status=Status.FAILED)) is None


def test_noisy_flag_uses_iqr_over_median():
    assert not metrics.is_noisy(fixed("torch-eager", 10.0, spread=0.01))
    assert metrics.is_noisy(fixed("torch-eager", 10.0, spread=0.4))


def test_speedups_against_the_blocks_baselines():
    jax_eager, jax_jit = fixed("jax-eager", 20.0), fixed("jax-jit", 5.0)
    other_batch = fixed("jax-eager", 1.0, batch=16)
    baselines = Baselines([EAGER, jax_eager, jax_jit, other_batch])
    assert metrics.speedup_vs_eager(jax_jit, baselines) == pytest.approx(4.0)
    assert metrics.speedup_vs_torch_eager(jax_jit, baselines) == pytest.approx(2.0)
    assert metrics.speedup_vs_eager(jax_eager, baselines) == pytest.approx(1.0)
    assert metrics.speedup_vs_eager(fixed("tf-xla", 1.0), baselines) is None  # no tf-eager


def test_pays_back_after_the_extra_start_over_the_saving():
    # 10.2 s more to start, 6 ms saved per step: 1700 steps.
    b = metrics.break_even(fixed("torch-compile", 4.0, 0.2, 10.2), EAGER)
    assert (b.kind, b.steps, b.text()) == (BreakEvenKind.STEPS, 1700, "1,700 steps")


def test_rounds_up_to_whole_steps():
    assert metrics.break_even(fixed("torch-compile", 9.0, 0.1, 0.1015), EAGER).steps == 2


def test_never_when_not_faster():
    b = metrics.break_even(fixed("torch-compile", 12.0, 0.1, 5.0), EAGER)
    assert b.kind is BreakEvenKind.NOT_FASTER and b.never and b.value() == math.inf
    assert b.text().startswith("never")


def test_never_when_the_gain_is_within_the_noise():
    # Median 0.2% faster, but samples spread +-10%: the interval of the ratio spans 1.
    static = fixed("torch-compile", 9.98, 0.1, 5.0, spread=0.1)
    eager = fixed("torch-eager", 10.0, spread=0.1)
    assert metrics.steps_to_break_even(5.1, 0.2, 9.98, 10.0) > 200_000  # medians alone say
    b = metrics.break_even(static, eager)
    assert b.kind is BreakEvenKind.WITHIN_NOISE
    assert b.text().startswith("never: per-step gain within the noise: static/eager median 0.998")


def test_a_small_gain_counts_when_it_is_measurable():
    static = fixed("torch-compile", 9.98, 0.1, 5.0, spread=0.0001)
    b = metrics.break_even(static, fixed("torch-eager", 10.0, spread=0.0001))
    assert b.steps == pytest.approx(245_000, abs=1)


def test_zero_when_it_starts_no_slower():
    b = metrics.break_even(fixed("torch-compile", 5.0, 0.05, 0.1), EAGER)
    assert b.kind is BreakEvenKind.AHEAD and b.steps == 0


def test_warm_start_uses_the_warm_first_call():
    static = fixed("torch-compile", 4.0, 0.2, 10.2, warm=(0.2, 0.62))
    assert metrics.time_to_first_result(static, warm=True) == pytest.approx(0.82)
    assert metrics.break_even(static, EAGER, warm=True).steps == 104  # 0.62 s / 6 ms, up


def test_missing_numbers_say_so():
    b = metrics.break_even(fixed("torch-compile", 4.0, 0.2, 1.0), EAGER, warm=True)
    assert b.kind is BreakEvenKind.NOT_MEASURED and math.isnan(b.value())
    failed_eager = fixed("torch-eager", 10.0, status=Status.FAILED)
    assert metrics.break_even(fixed("torch-compile", 4.0), failed_eager).kind is (
        BreakEvenKind.NO_BASELINE
    )


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
    assert metrics.steps_to_break_even(static_first, eager_first, static_ms, eager_ms) == expected


positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)


@given(positive, positive, positive, positive)
def test_break_even_steps_really_pay_back(static_start, eager_start, static_ms, eager_ms):
    n = metrics.steps_to_break_even(static_start, eager_start, static_ms, eager_ms)
    if math.isinf(n):
        assert static_ms >= eager_ms
        return
    assert n >= 0 and n == int(n)
    # After n steps the static backend has spent no more than eager (float slack: 1e-9 s)...
    assert static_start + n * static_ms / 1e3 <= eager_start + n * eager_ms / 1e3 + 1e-9
    # ...and one step earlier it had not yet caught up.
    if n > 0:
        m = n - 1
        assert static_start + m * static_ms / 1e3 > eager_start + m * eager_ms / 1e3 - 1e-9


def test_overtaking_step_is_where_the_static_stream_stays_ahead():
    eager = [10.0] * 6
    # Compiles at steps 1 and 3, then 2 ms a step: cumulative 50, 52, 82, 84, 86, 88 vs 60.
    assert metrics.overtaking_step(eager, [50, 2, 30, 2, 2, 2]) is None  # 88 > 60 at the end
    # 25, 27, 29, 31, 33, 35 vs 10, 20, 30, 40, 50, 60: behind at steps 1-2, ahead from 3.
    assert metrics.overtaking_step(eager, [25, 2, 2, 2, 2, 2]) == 3
    assert metrics.overtaking_step(eager, [5, 5, 5, 5, 5, 5]) == 1  # never behind
    # Ahead, then a recompile late in the stream puts it behind again, then ahead: step 6.
    assert metrics.overtaking_step(eager, [2, 2, 2, 2, 50, 2]) == 6
    with pytest.raises(ValueError, match="different lengths"):
        metrics.overtaking_step([1.0], [1.0, 2.0])


steps_ms = st.lists(
    st.floats(min_value=0.01, max_value=100, allow_nan=False), min_size=1, max_size=40
)


@given(st.data())
def test_overtaking_step_means_ahead_from_there_on(data):
    eager = data.draw(steps_ms)
    static = data.draw(st.lists(st.floats(0.01, 100), min_size=len(eager), max_size=len(eager)))
    step = metrics.overtaking_step(eager, static)
    totals = [(sum(static[: i + 1]), sum(eager[: i + 1])) for i in range(len(eager))]
    if step is None:
        assert totals[-1][0] > totals[-1][1]
        return
    assert all(s <= e for s, e in totals[step - 1 :])
    if step > 1:
        assert totals[step - 2][0] > totals[step - 2][1]


def stream(backend, strategy, step_ms, steady_ms, lengths, fed, status=Status.OK):
    cell = Cell("lstm", backend, "infer", "cpu", 2, "quick", scenario="stream",
                strategy=strategy, stream="skewed")  # fmt: skip
    return CellResult(
        "run",
        cell,
        Outcome(status),
        passes=Passes(lengths, fed, [0], step_ms, [0, 2], steady_ms, 2, 0),
    )


def test_stream_totals_compile_time_and_padding():
    r = stream("jax-jit", "bucket", [1000.0, 10.0, 500.0], [10.0, 10.0, 10.0], [20, 40, 20],
               [32, 64, 32])  # fmt: skip
    assert metrics.total_s(r) == pytest.approx(1.51)
    assert metrics.compile_s(r) == pytest.approx(1.48)
    assert metrics.compile_share(r) == pytest.approx(1.48 / 1.51)
    assert metrics.distinct_shapes(r) == 2
    assert metrics.padding_waste(r) == pytest.approx(1 - 80 / 128)
    assert metrics.last_compile_step(r) == 3
    eager = stream("jax-eager", "exact", [20.0] * 3, [20.0] * 3, [20, 40, 20], [20, 40, 20])
    assert metrics.compile_s(eager) is None  # eager builds no graph


def test_overtaking_against_the_eager_stream():
    eager = stream("jax-eager", "exact", [600.0, 600.0, 600.0], [600.0] * 3, [1] * 3, [1] * 3)
    jit = stream("jax-jit", "exact", [1000.0, 10.0, 10.0], [10.0] * 3, [1] * 3, [1] * 3)
    slow = stream("jax-jit", "bucket", [5000.0, 10.0, 10.0], [10.0] * 3, [1] * 3, [1] * 3)
    baselines = Baselines([eager, jit, slow])
    assert metrics.overtaking(jit, baselines).step == 2
    assert metrics.overtaking(slow, baselines).kind is OvertakeKind.NEVER
    assert metrics.overtaking(eager, baselines).kind is OvertakeKind.IS_BASELINE
    alone = metrics.overtaking(jit, Baselines([jit]))
    assert alone.kind is OvertakeKind.NO_BASELINE and alone.text() == "no jax-eager exact cell"


def test_geomean_keeps_slowdowns_and_skips_missing():
    assert metrics.geomean([2.0, 0.5]) == pytest.approx(1.0)
    assert metrics.geomean([4.0, None, math.nan]) == pytest.approx(4.0)
    assert metrics.geomean([]) is None
