import math

import numpy as np
import pytest

from bench.stats import is_noisy, max_rel_err, speedup, summarize


def test_summarize_known_samples():
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s["median"] == 3.0
    assert s["mean"] == 3.0
    assert s["min"] == 1.0 and s["max"] == 5.0
    assert s["stdev"] == pytest.approx(math.sqrt(2.5))
    assert s["iqr"] == pytest.approx(2.0)  # p75 4 - p25 2 (linear interpolation)
    assert s["p10"] == pytest.approx(1.4)
    assert s["p90"] == pytest.approx(4.6)
    assert s["p99"] == pytest.approx(4.96)
    assert s["n"] == 5


def test_summarize_single_sample_has_zero_spread():
    s = summarize([7.0])
    assert s["stdev"] == 0.0 and s["iqr"] == 0.0 and s["median"] == 7.0


def test_summarize_refuses_empty():
    with pytest.raises(ValueError, match="at least one sample"):
        summarize([])


def test_noisy_flag_uses_iqr_over_median():
    assert not is_noisy(summarize([10.0, 10.1, 10.2, 10.3, 10.4]))
    assert is_noisy(summarize([10.0, 10.0, 14.0, 14.0, 14.0, 10.0]))


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


def test_speedup():
    assert speedup(10.0, 5.0) == 2.0
    assert speedup(10.0, 20.0) == 0.5  # a slowdown stays a slowdown
    assert speedup(None, 5.0) is None
