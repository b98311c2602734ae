"""A batch in parts on threads: the same numbers whatever the thread count, and as the reference path."""

import numpy as np
import pytest

import crossbar
from lstm import parallel
from lstm.hardware import HardwareConfig, HardwareNetwork
from lstm.network import make_network
from mapping import Encoding


@pytest.fixture
def small_parts(monkeypatch):
    """Split even small batches, so that the reference path can check the parts."""
    parallel.batch_parts.cache_clear()
    monkeypatch.setattr(parallel, "MIN_PART_ROWS", 2)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_WORK", 0)
    yield
    parallel.batch_parts.cache_clear()


def test_parts_cover_the_batch_in_order():
    for batch in (1, 15, 16, 31, 32, 33, 64, 257):
        for work in (1, 10 ** 6):
            parts = parallel.batch_parts(batch, work)
            assert parts[0][0] == 0 and parts[-1][1] == batch
            assert all(a[1] == b[0] for a, b in zip(parts[:-1], parts[1:]))
            assert all(stop - start >= min(batch, parallel.MIN_PART_ROWS) for start, stop in parts)
            assert len(parts) <= parallel.MAX_PARTS
            if batch * work < parallel.MIN_PARALLEL_WORK:
                assert len(parts) == 1
    assert len(parallel.batch_parts(64, 10 ** 6)) == 2


@pytest.mark.parametrize("ideal_converters", [False, True], ids=["converters", "ideal-converters"])
@pytest.mark.parametrize("batch", [1, 7, 64])
def test_compiled_layer_equals_the_step_by_step_reference(rng, small_parts, ideal_converters, batch):
    """li2019 (read noise: float32 bands), in parts on 1 to 4 threads, against the step-by-step numpy twin of
    the read (``compiled=False``): the same bits, the same counts. Each part's rows draw the whole batch's
    streams, and every product element is one chain whatever the part."""
    config = HardwareConfig(array_rows=32, array_cols=16, adc_range=4.0, ideal_converters=ideal_converters,
                            encoding=Encoding(scale="max_abs"))
    x = rng.uniform(-1, 1, (batch, 6, 3))
    mask = np.ones((batch, 6))
    mask[batch // 2, 3:] = 0
    runs = []
    for compiled, threads in [(False, 1), (True, 1), (True, 2), (True, 3), (True, 4)]:
        net = make_network(3, [9], 2, seed=2, head="sigmoid")
        hw = HardwareNetwork(net, config, seed=4, compiled=compiled, threads=threads)
        hw.program()
        runs.append((hw.predict(x, mask), hw.counters()))
    (reference, reference_counts), rest = runs[0], runs[1:]
    if batch > 1:
        assert len(parallel.batch_parts(batch, 1)) == 2
    for out, counts in rest:
        np.testing.assert_array_equal(out, reference)
        for name in ("products", "input_vectors", "dac_conversions", "adc_conversions", "adc_saturations"):
            assert getattr(counts, name) == getattr(reference_counts, name), name
        assert counts.cell_energy == pytest.approx(reference_counts.cell_energy, rel=1e-12)


def test_thread_count_does_not_change_the_numbers(rng):
    """li2019 float32 products through BLAS, 2 parts by the default rule: 1 and 2 threads give the same bits."""
    x = rng.uniform(-1, 1, (32, 40, 20))
    mask = np.ones((32, 40))
    assert len(parallel.batch_parts(32, 40 * (20 + 14 + 1) * 56)) == 2
    results = []
    for threads in (1, 2, 2):
        net = make_network(20, [14], 1, seed=0)
        hw = HardwareNetwork(net, HardwareConfig(encoding=Encoding(scale="max_abs")), seed=3, threads=threads)
        hw.program()
        out = hw.predict(x, mask)
        results.append((out, hw.counters()))
    for out, counts in results[1:]:
        np.testing.assert_array_equal(out, results[0][0])
        assert counts == results[0][1]


@pytest.mark.parametrize("threads", [0, -1, 1.5, "two", None])
def test_bad_thread_counts_are_refused(threads, monkeypatch):
    with pytest.raises(ValueError, match="threads"):
        parallel.check_threads(threads)
    net = make_network(1, [4], 1, seed=0)
    if threads is not None:
        with pytest.raises(ValueError, match="threads"):
            HardwareNetwork(net, threads=threads)
    monkeypatch.setenv("XBAR_THREADS", str(threads))
    with pytest.raises(ValueError, match="XBAR_THREADS"):
        HardwareNetwork(net)


def test_default_threads(monkeypatch):
    monkeypatch.setenv("XBAR_THREADS", "3")
    assert parallel.default_threads() == 3
    monkeypatch.delenv("XBAR_THREADS")
    assert 1 <= parallel.default_threads() <= parallel.MAX_PARTS


# li2019's read noise: float32 bands, paired products; a hundred-thousandth of it: float64 bands
@pytest.mark.parametrize("read_noise", [None, 1e-5], ids=["float32", "float64"])
def test_blas_thread_count_does_not_change_the_numbers(rng, read_noise):
    """The read calls no BLAS (whose sums change with its thread count): OpenBLAS's threads do not matter.

    Without converters, so that the last bits of the products reach the outputs (an ADC would hide most).
    """
    from threadpoolctl import threadpool_limits

    device = crossbar.preset("li2019")
    if read_noise is not None:
        device = device.replace(read_noise_sigma_relative=read_noise)
    x = rng.uniform(-1, 1, (32, 4, 64))
    mask = np.ones((32, 4))
    results = []
    for blas_threads in (1, 2):
        net = make_network(64, [128], 1, seed=0)
        config = HardwareConfig(device=device, encoding=Encoding(scale="max_abs"), ideal_converters=True)
        hw = HardwareNetwork(net, config, seed=3, threads=2)
        hw.program()
        plan = hw.matrices["layer0.W"].plan()
        assert (plan.arrays.signal.dtype == np.float32) == (read_noise is None)
        with threadpool_limits(blas_threads, user_api="blas"):
            results.append(hw.predict(x, mask))
    np.testing.assert_array_equal(results[0], results[1])
