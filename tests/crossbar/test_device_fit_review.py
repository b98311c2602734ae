"""The fitter held as an independent reviewer would (issue 28): statistics computed here, not by the
fitter's code, on the shipped CrossSim ramps through ``xbar device fit`` and on synthetic ramps of known
laws and white read noise; the command line's refusals of bad traces and options (issue 27)."""

import csv
import os

import numpy as np
import pytest
from scipy.stats import ks_2samp

from crossbar.devices.pulse_tables import DATA_DIR, PulseTable
from crossbar.fitting.device_fit import Trace, estimate_read_noise, fit_table, simulate_like
from xbar import cli

SET, RESET = (os.path.join(DATA_DIR, f"crosssim_{k}_ramps.csv") for k in ("set", "reset"))


def _ramps(path):
    """The CSV's ramps in siemens, read here (not through the fitter's reader): currents at 0.1 V."""
    with open(path, encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))[1:]
    columns = {}
    for row in rows:
        for j, cell in enumerate(row):
            if cell.strip():
                columns.setdefault(j, []).append(float(cell) / 0.1)
    return [np.array(columns[j]) for j in sorted(columns)]


def _pulse_detrended(ramps):
    """Reads before each step, the steps, and the steps less the mean step at the same pulse (first n)."""
    n = min(r.size for r in ramps) - 1
    d = np.array([np.diff(r[:n + 1]) for r in ramps])
    return np.array([r[:n] for r in ramps]), d, d - d.mean(axis=0)


def _white_noise(ramps):
    """A reviewer's read noise: minus the lag-1 covariance of the pulse-detrended steps (m/(m-1) undone)."""
    _, _, r = _pulse_detrended(ramps)
    m = len(ramps)
    return float(np.sqrt(max(-np.mean(r[:, 1:] * r[:, :-1]) * m / (m - 1), 0.0)))


def _review(device, ramps, up, repeats=5):
    """Step-variance ratio (simulated over measured, simulated reads given the data's read noise) and the
    KS p-values of single-pulse steps in three ranges of equal shares of the data's reads."""
    sigma = _white_noise(ramps)
    runs = simulate_like(device, [Trace(r, up) for r in ramps] * repeats, seed=11)
    rng = np.random.default_rng(5)
    reads = [r + sigma * rng.standard_normal(r.size) for r in runs]
    g_data, d_data, r_data = _pulse_detrended(ramps)
    g_sim, d_sim, r_sim = _pulse_detrended(reads)
    edges = np.quantile(g_data, [0.0, 1 / 3, 2 / 3, 1.0])
    edges[0], edges[-1] = -np.inf, np.inf
    p = [ks_2samp(d_data[(g_data >= lo) & (g_data < hi)], d_sim[(g_sim >= lo) & (g_sim < hi)]).pvalue
         for lo, hi in zip(edges[:-1], edges[1:])]
    return r_sim.var() / r_data.var(), p


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("fit") / "crosssim.toml")
    assert cli.main(["device", "fit", SET, RESET, "--read-voltage", "0.1", "--out", out, "--seeds", "3"]) == 0
    return out


def test_the_crosssim_fit_holds_in_spread_and_shape(fitted):
    """Through ``xbar device fit``: step-variance ratio 0.67..1.5 and KS p >= 1e-3 in three ranges each
    way (the issue measured 2.94 and 2.21, and p down to 6e-8, before)."""
    device = cli.load_device(fitted)
    for path, up in ((SET, True), (RESET, False)):
        ratio, p = _review(device, _ramps(path), up)
        assert 0.67 <= ratio <= 1.5, (up, ratio)
        assert min(p) >= 1e-3, (up, p)


def test_a_table_of_twice_the_spread_fails_the_review(fitted):
    """The review has power: the fitted table's spread doubled about each bin's mean fails the variance
    ratio in both directions."""
    device = cli.load_device(fitted)
    table = device.pulse_law.pulse_table()
    w = np.diff(table.quantiles)[None, :, None]

    def doubled(d):
        mean = (0.5 * (d[:, 1:] + d[:, :-1]) * w).sum(axis=1, keepdims=True)
        return mean + 2.0 * (d - mean)

    wide = PulseTable(table.g_bins, table.quantiles, doubled(table.dg_up), doubled(table.dg_down), "doubled")
    path = os.path.splitext(fitted)[0] + "_doubled.npz"
    wide.save(path)
    device = device.replace(pulse_law=device.pulse_law.__class__(kind="table", table=path))
    for ramps, up in ((_ramps(SET), True), (_ramps(RESET), False)):
        assert _review(device, ramps, up)[0] > 1.5


def test_the_fitted_device_file_round_trips_with_its_read_noise(fitted):
    device = cli.load_device(fitted)
    traces = [Trace(r, True) for r in _ramps(SET)] + [Trace(r, False) for r in _ramps(RESET)]
    assert device.read_noise_sigma == pytest.approx(estimate_read_noise(traces), rel=1e-9)
    assert 0.25e-6 < device.read_noise_sigma < 0.35e-6  # the reviewer's own: 0.296 and 0.309 uS
    assert device.g_min < min(r.min() for r in _ramps(RESET)) and device.g_max > max(r.max() for r in _ramps(SET))
    again = cli.load_device(fitted)
    assert again.to_dict() == device.to_dict()


def _law(g, up, sigma, window):
    w = g / window
    if up:
        return (15 - 7.5 * w) * sigma, (1.2 + 0.6 * w) * sigma
    return -(7.5 + 7.5 * w) * sigma, (1.2 + 0.6 * (1 - w)) * sigma


@pytest.mark.parametrize("sigma, seed", [(1e-6, 1), (3.5e-6, 2), (5e-6, 3)])
def test_known_laws_and_white_read_noise_are_found_back(sigma, seed):
    """300 ramps each way of a known law (mean step and spread against G) read with white noise: the read
    noise within 5 %, each bin's mean step within 10 % and spread within 20 % where 300 or more true steps
    lie within half a bin of its centre (the table's moments computed here from its quantiles)."""
    window = 1200 * sigma
    rng = np.random.default_rng(seed)
    traces, true = [], {}
    for up in (True, False):
        g = rng.uniform(0.05 * window, 0.1 * window, 300) if up else rng.uniform(0.9 * window, 0.95 * window, 300)
        path = [g]
        for _ in range(80):
            mean, spread = _law(path[-1], up, sigma, window)
            path.append(path[-1] + mean + spread * rng.standard_normal(g.size))
        path = np.array(path).T
        true[up] = path[:, :-1].ravel()
        traces += [Trace(p + sigma * rng.standard_normal(p.size), up) for p in path]
    assert estimate_read_noise(traces) == pytest.approx(sigma, rel=0.05)
    table = fit_table(traces)
    w = np.diff(table.quantiles)[:, None]
    half = 0.5 * (table.g_bins[0][1] - table.g_bins[0][0])
    checked = 0
    for up in (True, False):
        d = (table.dg_up if up else table.dg_down)[0]
        low, high = d[:-1], d[1:]
        mean = (w * 0.5 * (low + high)).sum(axis=0)
        spread = np.sqrt((w * (low * low + low * high + high * high) / 3.0).sum(axis=0) - mean ** 2)
        for b, centre in enumerate(table.g_bins[0]):
            if np.sum(np.abs(true[up] - centre) < half) < 300:
                continue
            law_mean, law_spread = _law(centre, up, sigma, window)
            assert mean[b] == pytest.approx(law_mean, rel=0.10), (up, b)
            assert spread[b] == pytest.approx(law_spread, rel=0.20), (up, b)
            checked += 1
    assert checked >= 30


def test_device_show_prints_the_goodness_of_fit(fitted, tmp_path, capsys):
    figure = str(tmp_path / "show.png")
    assert cli.main(["device", "show", fitted, "--traces", SET, RESET, "--read-voltage", "0.1", "--seeds", "5",
                     "--out", figure]) == 0
    text = capsys.readouterr().out
    assert "step-variance ratio 0.67..1.5" in text and "KS p >= 0.001" in text
    lines = [line for line in text.splitlines() if line.strip().startswith(("up ", "down "))]
    assert len(lines) == 6 and all(line.endswith("holds") for line in lines)
    assert os.path.getsize(str(tmp_path / "show_fit.png")) > 0


def test_a_byte_order_mark_keeps_every_first_read(tmp_path):
    from crossbar.fitting.device_fit import read_traces

    text = "\n".join(f"{0.1 + 0.01 * k},{0.9 - 0.01 * k}" for k in range(8))
    plain, marked = tmp_path / "plain.csv", tmp_path / "bom.csv"
    plain.write_text(text, encoding="utf-8")
    marked.write_text(text, encoding="utf-8-sig")
    a, b = read_traces(str(plain), window=(10e-6, 100e-6)), read_traces(str(marked), window=(10e-6, 100e-6))
    assert [t.conductance.size for t in b] == [8, 8]
    assert all(np.array_equal(x.conductance, y.conductance) for x, y in zip(a, b))


@pytest.mark.parametrize("argv, message", [
    (["show", "taox_lut", "--pulses", "0"], "--pulses=0"),
    (["show", "taox_lut", "--seeds", "0"], "--seeds=0"),
    (["fit", SET, RESET, "--read-voltage", "0.1", "--name", "a\nb"], "--name='a\\nb'"),
])
def test_device_options_out_of_range_are_refused_in_one_line(argv, message, tmp_path, capsys):
    argv = argv + ["--out", str(tmp_path / ("x.toml" if argv[0] == "fit" else "x.png"))]
    assert cli.main(["device", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not os.listdir(tmp_path)


def test_an_infinite_read_is_named_in_one_line(tmp_path, capsys):
    path = tmp_path / "inf.csv"
    path.write_text("rmp1,rmp2\n1e-4,2e-4\n1.1e-4,1.9e-4\ninf,1.8e-4\n1.3e-4,1.7e-4\n1.4e-4,1.6e-4\n1.5e-4,1.5e-4\n")
    with _no_warnings():
        assert cli.main(["device", "fit", str(path), "--out", str(tmp_path / "x.toml")]) == 2
    err = capsys.readouterr().err
    assert "row 4, column 1: 'inf' is not finite" in err and str(path) in err and len(err.strip().splitlines()) == 1


class _no_warnings:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


@pytest.mark.slow
def test_long_ramps_fit_and_report_in_seconds(tmp_path):
    """Two ramps of 30 000 reads (the issue: 2 minutes): the fit and its report in well under a minute."""
    import time

    rng = np.random.default_rng(0)
    up = 100e-6 + np.cumsum(np.full(30000, 2e-9) + 1e-9 * rng.standard_normal(30000))
    down = up[-1] - np.cumsum(np.full(30000, 2e-9) + 1e-9 * rng.standard_normal(30000))
    path = tmp_path / "long.csv"
    np.savetxt(path, np.array([up, down]).T, delimiter=",", header="rmp1,rmp2", comments="")
    start = time.perf_counter()
    assert cli.main(["device", "fit", str(path), "--out", str(tmp_path / "long.toml"), "--seeds", "5"]) == 0
    assert time.perf_counter() - start < 40


def test_the_gong_preset_reads_with_its_unbiased_read_noise():
    """Gong et al.'s ramps: a reviewer's lag-1 estimate on steps less a running mean of 50 (one ramp each
    way, no pulse-by-pulse mean) agrees with the preset's read noise within 5 % (3.56 uS of 55 uS)."""
    import crossbar
    from crossbar.fitting.device_fit import read_traces

    traces = read_traces(os.path.join(DATA_DIR, "gong2018_hfo2_pulses.csv"), window=(10e-6, 100e-6))
    products, count = 0.0, 0
    for t in traces:
        d = np.diff(t.conductance)
        r = d - np.convolve(d, np.ones(51) / 51, mode="same")
        r = r[25:-25]
        products += float(np.dot(r[1:], r[:-1]))
        count += r.size - 1
    reviewer = np.sqrt(-products / count)
    preset = crossbar.preset("gong2018_hfo2")
    assert preset.read_noise_sigma_relative * 55e-6 == pytest.approx(reviewer, rel=0.05)
    assert preset.read_noise_sigma_relative == pytest.approx(0.0648, abs=5e-4)


def test_falcone_spread_is_the_published_whole_spread_at_each_time():
    """At 50 uS, programmed by the preset and left: mean -0.0762 - 0.089 ln t and spread 0.04201 ln t +
    0.41183 uS (0.412 at 1 s, 0.509 at 10 s), the paper's fit of the whole distribution (1/f read noise
    off here: it is a read's, not the state's)."""
    import crossbar

    device = crossbar.preset("falcone2025_cmo_hfox").replace(temporal_noise=crossbar.preset("ideal").temporal_noise)
    array = crossbar.CrossbarArray(300, 300, device, seed=4)
    array.program(np.full((300, 300), 50e-6))
    for t in (1.0, 10.0, 1e4):
        array.advance_time(t - array.time)
        moved = (np.asarray(array.conductance) - 50e-6) * 1e6
        assert np.std(moved) == pytest.approx(0.04201137 * np.log(t) + 0.41183342, rel=0.02), t
        assert np.mean(moved) == pytest.approx(-0.0762 - 0.08900206 * np.log(t), abs=0.01), t


def test_taox_devices_stay_within_their_own_measured_range():
    """The issue: 66 % of devices above their own highest bin after one up pulse from the bottom, 43 % after
    20 down pulses; now none, and none below its lowest; the kernel's numpy twin agrees."""
    import crossbar
    from crossbar.devices.pulse_tables import (shipped_table, table_arrays, table_pulse_update,
                                               table_pulse_update_reference)

    table = shipped_table("taox_lut")
    array = crossbar.CrossbarArray(1000, 2, crossbar.preset("taox_lut"), seed=3)
    top, bottom = table.g_bins[array.table_index, -1], table.g_bins[array.table_index, 0]
    array.apply_pulses(np.ones((1000, 2), dtype=np.int64))
    assert np.all(array.conductance <= top) and np.all(array.conductance >= bottom)
    for _ in range(20):
        array.apply_pulses(-np.ones((1000, 2), dtype=np.int64))
        assert np.all(array.conductance <= top) and np.all(array.conductance >= bottom)
    g = np.full((50, 4), 160e-6)
    n = np.tile([[3, -2, 5, -7]], (50, 1)).astype(np.int64)
    low, high = np.full((50, 4), 5e-6), np.full((50, 4), 165e-6)
    frozen, index = np.zeros((50, 4), bool), np.arange(200).reshape(50, 4) % 10
    seeds = np.arange(50, dtype=np.uint64) + 7
    compiled, reference = g.copy(), g.copy()
    table_pulse_update(compiled, n, low, high, frozen, index, **table_arrays(table), seeds=seeds)
    table_pulse_update_reference(reference, n, low, high, frozen, index, table, seeds)
    np.testing.assert_allclose(compiled, reference, rtol=0, atol=1e-15)
    assert np.all(compiled <= table.g_bins[index, -1])
