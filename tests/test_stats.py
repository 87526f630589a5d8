import math

import numpy as np
import pytest

from bench.analysis.stats import bootstrap_ratio_ci, summarize
from bench.results.record import Status
from bench.worker.parity import check, max_rel_err


def test_summarize_known_samples():
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s.median == 3.0
    assert s.mean == 3.0
    assert s.min == 1.0 and s.max == 5.0
    assert s.stdev == pytest.approx(math.sqrt(2.5))
    assert s.iqr == pytest.approx(2.0)  # p75 4 - p25 2 (linear interpolation)
    assert s.p10 == pytest.approx(1.4)
    assert s.p90 == pytest.approx(4.6)
    assert s.p99 == pytest.approx(4.96)
    assert s.n == 5
    assert s.iqr_ratio == pytest.approx(2 / 3)


def test_summarize_single_sample_has_zero_spread():
    s = summarize([7.0])
    assert s.stdev == 0.0 and s.iqr == 0.0 and s.median == 7.0


def test_summarize_refuses_empty():
    with pytest.raises(ValueError, match="at least one sample"):
        summarize([])


def test_max_rel_err_is_normwise():
    ref = np.array([[10.0, 0.0], [-5.0, 1e-9]])
    out = ref + np.array([[0.01, 0.0], [0.0, 1e-6]])
    # Normalised by the largest reference magnitude, so the tiny entry does not blow up.
    assert max_rel_err(out, ref) == pytest.approx(1e-3)


def test_max_rel_err_nan_never_passes():
    assert max_rel_err(np.array([np.nan, 1.0]), np.array([1.0, 1.0])) == math.inf


def test_max_rel_err_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        max_rel_err(np.zeros(3), np.zeros(4))


def test_parity_check_records_the_worst_error_and_a_mismatch_beyond_tolerance():
    parity, verdict = check({"step 0": 1e-6, "step 9": 5e-7}, 1e-3, "loss")
    assert parity.parity_max_rel_err == 1e-6 and verdict is None
    parity, verdict = check({"step 0": 1e-6, "step 9": 2e-3}, 1e-3, "loss")
    assert verdict.status is Status.MISMATCH and "the loss is off by 0.002" in verdict.error


def test_bootstrap_is_seeded_and_brackets_the_ratio():
    rng = np.random.default_rng(1)
    a = 10 * (1 + 0.02 * rng.standard_normal(50))
    b = 13 * (1 + 0.02 * rng.standard_normal(50))
    ratio, low, high = bootstrap_ratio_ci(a, b)
    assert ratio == pytest.approx(np.median(b) / np.median(a))
    assert 1.25 < low < ratio < high < 1.35
    assert bootstrap_ratio_ci(a, b) == (ratio, low, high)  # same seed, same interval
    assert bootstrap_ratio_ci(a, b, seed=1) != (ratio, low, high)


def test_bootstrap_refuses_empty_and_non_finite_samples():
    with pytest.raises(ValueError, match="at least one sample"):
        bootstrap_ratio_ci([], [1.0])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_ratio_ci([1.0, math.nan], [1.0])
