"""The compiled layer on threads (a batch in parts, or one sequence in column chunks): the same numbers
whatever the thread count, and as the reference path."""

import numpy as np
import pytest

import crossbar
from mapping import ChipSpec, Encoding
from lstm import parallel
from lstm.hardware import HardwareNetwork
from lstm.network import make_network


@pytest.mark.parametrize("ideal_converters", [False, True], ids=["converters", "ideal-converters"])
@pytest.mark.parametrize("batch", [1, 7, 64])
def test_compiled_layer_equals_the_step_by_step_reference(rng, ideal_converters, batch):
    """li2019 (read noise: float32 bands), in column chunks on 1 to 4 threads, against the step-by-step numpy
    twin of the read (``compiled=False``): the same bits, the same counts. Each chunk takes every band in
    order and every product element is one chain, whatever the chunk or the thread."""
    config = ChipSpec(ideal_converters=ideal_converters, encoding=Encoding(scale="max_abs"),
                      array=crossbar.ArraySpec(rows=32, cols=16), adc=crossbar.AdcSpec(range=4.0))
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
    for out, counts in rest:
        np.testing.assert_array_equal(out, reference)
        for name in ("products", "input_vectors", "dac_conversions", "adc_conversions", "adc_saturations"):
            assert getattr(counts, name) == getattr(reference_counts, name), name
        assert counts.cell_energy == pytest.approx(reference_counts.cell_energy, rel=1e-12)


@pytest.mark.parametrize("shape", [(32, 40, 20, 14), (1, 3, 160, 160)], ids=["batch-parts", "column-chunks"])
def test_thread_count_does_not_change_the_numbers(rng, shape):
    """li2019 float32 products, a batch of 32 in parts or one sequence through a read large enough for
    parallel column chunks: 1, 2 and 3 threads give the same bits and counts (the energy too)."""
    batch, time, features, hidden = shape
    x = rng.uniform(-1, 1, (batch, time, features))
    mask = np.ones((batch, time))
    net = make_network(features, [hidden], 1, seed=0)
    hw = HardwareNetwork(net, ChipSpec(encoding=Encoding(scale="max_abs")), seed=3)
    hw.program()
    plan = hw.matrices["layer0.W"].plan()
    if batch == 1:  # the read is cut into chunks, and its work is above the kernel's parallel threshold
        from crossbar.read.kernels import PARALLEL_WORK
        assert len(plan.arrays.chunks) > 3 and 2 * plan.multiply_adds(1) >= PARALLEL_WORK
    else:
        assert len(parallel.batch_parts(batch, time * plan.multiply_adds(1), 2)) == 2
    results = []
    for threads in (1, 2, 3):
        hw = HardwareNetwork(net, ChipSpec(encoding=Encoding(scale="max_abs")), seed=3, threads=threads)
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


def test_batch_parts_cover_the_batch():
    assert parallel.batch_parts(1, 10 ** 9, 8) == ((0, 1),)
    assert parallel.batch_parts(64, 10, 4) == ((0, 64),)  # too little work to hand out
    assert parallel.batch_parts(64, 10 ** 6, 3) == ((0, 21), (21, 42), (42, 64))
    assert parallel.batch_parts(40, 10 ** 6, 16) == ((0, 20), (20, 40))  # at least MIN_PART_ROWS rows a part
    with pytest.raises(ValueError, match="batch"):
        parallel.batch_parts(0, 1, 1)


def test_default_threads(monkeypatch):
    monkeypatch.setenv("XBAR_THREADS", "3")
    assert parallel.default_threads() == 3
    monkeypatch.delenv("XBAR_THREADS")
    assert parallel.default_threads() == parallel.usable_cores()


def test_chunks_do_not_change_the_numbers(rng, monkeypatch):
    """The same read cut into one chunk, the default chunks, or chunks of one block: the same bits."""
    import crossbar.read.chunks as read

    x = rng.uniform(-1, 1, (9, 80))  # x and h of the layer
    results = []
    for columns, count in [(10 ** 6, 1), (read.CHUNK_COLUMNS, read.CHUNKS), (3, 1000)]:
        monkeypatch.setattr(read, "CHUNK_COLUMNS", columns)
        monkeypatch.setattr(read, "CHUNKS", count)
        monkeypatch.setattr(read, "CHUNKS_PER_THREAD", count)
        monkeypatch.setattr(read, "CHUNK_WORK", 0)
        net = make_network(69, [11], 1, seed=0)
        hw = HardwareNetwork(net, ChipSpec(array=crossbar.ArraySpec(rows=32, cols=16)), seed=3)
        hw.program()
        plan = hw.matrices["layer0.W"].plan()
        results.append((len(plan.arrays.chunks) - 1, hw.matrices["layer0.W"].matvec(x)))
    assert results[0][0] == 1 and results[1][0] == 2 and results[2][0] > 10
    for _, y in results[1:]:
        np.testing.assert_array_equal(y, results[0][1])


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
        config = ChipSpec(device=device, encoding=Encoding(scale="max_abs"), ideal_converters=True)
        hw = HardwareNetwork(net, config, seed=3, threads=2)
        hw.program()
        plan = hw.matrices["layer0.W"].plan()
        assert (plan.arrays.signal.dtype == np.float32) == (read_noise is None)
        with threadpool_limits(blas_threads, user_api="blas"):
            results.append(hw.predict(x, mask))
    np.testing.assert_array_equal(results[0], results[1])
