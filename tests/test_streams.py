import numpy as np
import pytest

from bench.matrix.streams import (
    STREAMS,
    bucket_edges,
    pad_right,
    padded_length,
    padding_waste,
)


@pytest.mark.parametrize("name", STREAMS)
def test_stream_is_deterministic_for_a_seed_and_within_bounds(name):
    stream = STREAMS[name]
    a, b, c = stream.lengths(64, seed=0), stream.lengths(64, seed=0), stream.lengths(64, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 16 and a.max() <= 256
    assert len(np.unique(a)) > 10  # it really varies


def test_streams_differ_and_skewed_is_mostly_short():
    uniform = STREAMS["uniform"].lengths(2000, seed=0)
    skewed = STREAMS["skewed"].lengths(2000, seed=0)
    assert 120 < np.median(uniform) < 150
    assert 40 < np.median(skewed) < 56
    assert np.mean(skewed > 128) < 0.15


def test_a_stream_is_the_same_in_another_process():
    import subprocess
    import sys

    code = "from bench.matrix.streams import STREAMS; print(list(STREAMS['skewed'].lengths(5, 3)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(list(STREAMS["skewed"].lengths(5, 3)))


def test_buckets():
    edges = bucket_edges(16, 256)
    assert edges == [16, 32, 64, 128, 256]
    assert bucket_edges(20, 100) == [32, 64, 128]
    assert [padded_length(n, "bucket", edges) for n in (16, 17, 64, 65, 256)] == [
        16,
        32,
        64,
        128,
        256,
    ]
    assert padded_length(17, "exact", edges) == 17
    with pytest.raises(ValueError, match="beyond the largest bucket"):
        padded_length(300, "bucket", edges)


def test_pad_right_and_waste():
    a = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(pad_right(a, 5), [[0, 1, 2, 0, 0], [3, 4, 5, 0, 0]])
    with pytest.raises(ValueError):
        pad_right(a, 2)
    assert padding_waste(np.array([16, 48]), np.array([16, 64])) == pytest.approx(0.2)
