"""In-situ update algorithms (issue 30): each one's arithmetic against a plain numpy version of the same steps
on ideal devices, its pulses and reads against hand counts, a resume equal to never stopping, the settings'
validation, and the published ordering on soft-bounds devices with symmetry-point offsets."""

import dataclasses

import numpy as np
import pytest

import crossbar
from lstm import make_network
from lstm.hardware import UPDATE_STREAM, HardwareNetwork, InSituTrainer
from lstm.updates import UPDATE_ALGORITHMS, UpdateSpec
from lstm.updates.mixed_precision import pulse_counts
from lstm.updates.stochastic import logical_inputs
from mapping import ChipSpec, Encoding

ALGORITHMS = ("mixed_precision", "tiki_taka_v2", "chopped_tiki_taka_v2", "agad")


def _ideal_trainer(algorithm, seed=0, **settings):
    net = make_network(3, [4], 2, seed=0)
    hw = HardwareNetwork(net, ChipSpec(preset="ideal", ideal_converters=True, encoding=Encoding(scale="fixed")),
                         seed=0)
    hw.initialize()
    return InSituTrainer(hw, UpdateSpec(algorithm=algorithm, **settings), seed=seed)


def _deltas(hw, rng, n, size):
    """``n`` mini-batches' changes, network-shaped (rows [x; h; 1]), weight units."""
    shapes = {name: hw.network.params[name].shape for name in hw.matrices}
    return [{name: size * rng.standard_normal(shape) for name, shape in shapes.items()} for _ in range(n)]


def _weights(hw, matrices):
    """Logical weights a matrix holds now (ideal devices: exact up to rounding)."""
    out = {}
    for name, mm in matrices.items():
        w, b = mm.read_weights()
        out[name] = mm.logical_change(w, b) if b is not None else w
    return out


def _pulses(hw):
    return hw.counters().programming_pulses


class NumpyTikiTaka:
    """The Tiki-Taka family's steps in plain numpy on ideal linear devices (step s up and down, scale k)."""

    def __init__(self, hw, spec, seed, reads):
        self.spec = spec
        self.hardware_reads = reads  # what the chip's reads of the fast rows gave, in order
        self.k = {n: mm.scale for n, mm in hw.matrices.items()}
        self.step = crossbar.preset("ideal").pulse_law.step_up
        self.eps = {n: mm.pulse_step() for n, mm in hw.matrices.items()}
        shapes = {n: (mm.n_logical, mm.n_out) for n, mm in hw.matrices.items()}
        self.fast = {n: np.zeros(s) for n, s in shapes.items()}
        self.slow = {n: np.zeros(s) for n, s in shapes.items()}
        self.buffer = {n: np.zeros(s) for n, s in shapes.items()}
        self.chopper = {n: np.ones(s[0]) for n, s in shapes.items()}
        self.row = {n: 0 for n in shapes}
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, UPDATE_STREAM]))
        self.period = max(1, int(round(1.0 / spec.chop_probability)))
        self.reference = {n: np.zeros(s) for n, s in shapes.items()}
        self.sums = {n: np.zeros(s) for n, s in shapes.items()}
        self.reads = {n: np.zeros(s[0], int) for n, s in shapes.items()}
        self.has_reference = {n: np.zeros(s[0], bool) for n, s in shapes.items()}
        self.updates = self.pulses = self.row_reads = self.flips = 0

    def apply(self, delta):
        for n, d in delta.items():
            asked = 0.5 * self.k[n] * self.spec.fast_lr * self.chopper[n][:, None] * d  # S, per device of a pair
            count = np.rint(asked / self.step)
            self.fast[n] += 2.0 * count * self.step / self.k[n]
            self.pulses += 2 * int(np.abs(count).sum())
        self.updates += 1
        if self.updates % self.spec.transfer_every == 0:
            for n in self.fast:
                rows = self.fast[n].shape[0] if self.spec.rows_per_transfer is None else self.spec.rows_per_transfer
                for _ in range(min(rows, self.fast[n].shape[0])):
                    self._transfer(n)

    def _transfer(self, n):
        r = self.row[n]
        read = self.hardware_reads[self.row_reads]
        # the chip read the row it holds (to rounding); the steps below take what it read, as the chip does,
        # since the fast weights are whole steps and a buffer can land on a whole number of steps exactly
        np.testing.assert_allclose(read, self.fast[n][r], rtol=0, atol=1e-12)
        self.row_reads += 1
        algorithm = self.spec.algorithm
        if algorithm == "agad":
            self.sums[n][r] += read
            self.reads[n][r] += 1
            signal = (self.chopper[n][r] * (read - self.reference[n][r]) if self.has_reference[n][r]
                      else np.zeros_like(read))
        else:
            signal = self.chopper[n][r] * read
        held = self.buffer[n][r] + self.spec.transfer_lr * signal / self.eps[n]
        count = pulse_counts(held, self.spec.threshold_steps, self.spec.max_pulses)
        self.slow[n][r] += count * self.eps[n]
        self.pulses += 2 * int(np.abs(count).sum())
        self.buffer[n][r] = held - count
        if algorithm == "chopped_tiki_taka_v2" and self.rng.random() < self.spec.chop_probability:
            self.chopper[n][r] *= -1
            self.flips += 1
        if algorithm == "agad" and self.reads[n][r] >= self.period:
            self.reference[n][r] = self.sums[n][r] / self.reads[n][r]
            self.sums[n][r], self.reads[n][r] = 0.0, 0
            self.has_reference[n][r] = True
            self.chopper[n][r] *= -1
            self.flips += 1
        self.row[n] = (r + 1) % self.fast[n].shape[0]


def test_mixed_precision_is_its_numpy_steps_on_ideal_devices(rng):
    trainer = _ideal_trainer("mixed_precision", threshold_steps=1.0, max_pulses=3, transfer_every=2)
    hw = trainer.hardware
    eps = {n: mm.pulse_step() for n, mm in hw.matrices.items()}
    chi = {n: np.zeros((mm.n_logical, mm.n_out)) for n, mm in hw.matrices.items()}
    held = {n: np.zeros_like(c) for n, c in chi.items()}
    pulses, before = 0, _pulses(hw)
    for k, delta in enumerate(_deltas(hw, rng, 9, 0.004)):
        trainer.apply(delta)
        for n, d in delta.items():
            chi[n] += d
            if k % 2 == 1:  # every second update
                count = pulse_counts(chi[n] / eps[n], 1.0, 3)
                held[n] += count * eps[n]
                chi[n] -= count * eps[n]
                pulses += 2 * int(np.abs(count).sum())
    got = _weights(hw, hw.matrices)
    for n in held:
        np.testing.assert_allclose(got[n], held[n], rtol=0, atol=1e-12)
        np.testing.assert_allclose(trainer.algorithm.accumulated[n], chi[n], rtol=0, atol=1e-15)
    assert _pulses(hw) - before == pulses > 0
    assert trainer.algorithm.counts() == {"updates": 9, "transfers": 4}


def test_mixed_precision_on_gate_voltage_devices_writes_whole_accumulations(rng):
    """On li2019 (Li et al.'s two-pulse scheme) a weight is written, its whole ``chi`` at once, when ``|chi|``
    reaches ``threshold_steps`` write resolutions ``2 sigma / k``; the other pairs are not SET again (their
    devices bit for bit as they were); a written pair costs a SET on each device and a RESET on the falling
    one; what the written weights got is ``chi`` plus the programming noise of the write, which draws each
    device's noise (sigma) again in place of the one it had: ``2 sigma / k`` a weight (four draws of sigma)."""
    net = make_network(3, [4], 2, seed=0)
    quiet_reads = dataclasses.replace(crossbar.preset("li2019"), read_noise_sigma_relative=0.0, read_noise_sigma=0.0)
    hw = HardwareNetwork(net, ChipSpec(preset="li2019", device=quiet_reads, encoding=Encoding(scale="fixed")),
                         seed=0)
    hw.initialize()
    trainer = InSituTrainer(hw, UpdateSpec(algorithm="mixed_precision", threshold_steps=1.5), seed=0)
    sigma = hw.chip.device.program_noise_sigma
    chi = {n: np.zeros((mm.n_logical, mm.n_out)) for n, mm in hw.matrices.items()}
    errors, n_written = [], 0
    for delta in _deltas(hw, rng, 10, 0.05):
        before = {n: _weights(hw, {n: mm})[n] for n, mm in hw.matrices.items()}
        g_before = [a.conductance.copy() for a in hw.chip.arrays]
        pulses = _pulses(hw)
        trainer.apply(delta)
        written_pairs = 0
        for n, mm in hw.matrices.items():
            chi[n] += delta[n]
            resolution = mm.write_resolution()
            assert resolution == 2 * sigma / mm.scale
            written = np.abs(chi[n]) >= 1.5 * resolution
            moved = _weights(hw, {n: mm})[n] - before[n]
            np.testing.assert_array_equal(moved[~written], 0.0)
            errors.append((moved[written] - chi[n][written]) * mm.scale / (2 * sigma))
            chi[n][written] = 0.0
            np.testing.assert_array_equal(trainer.algorithm.accumulated[n], chi[n])
            written_pairs += int(np.count_nonzero(written))
        assert _pulses(hw) - pulses == 3 * written_pairs
        n_written += written_pairs
        changed = sum(int(np.count_nonzero(a.conductance != g)) for a, g in zip(hw.chip.arrays, g_before))
        assert changed == 2 * written_pairs
    errors = np.concatenate(errors)
    assert n_written == errors.size > 60
    assert abs(errors.mean()) < 4 / np.sqrt(errors.size) and 0.8 < errors.std() < 1.2  # (its sd: 0.06)
    with pytest.raises(ValueError, match="update.max_pulses=2 is not allowed with device 'li2019'"):
        InSituTrainer(hw, UpdateSpec(algorithm="mixed_precision", max_pulses=2))
    # without programming noise every non-zero change is written at once, and a zero change is not
    quiet = dataclasses.replace(quiet_reads, program_noise_sigma=0.0)
    hw = HardwareNetwork(net, ChipSpec(preset="li2019", device=quiet, encoding=Encoding(scale="fixed")), seed=0)
    hw.initialize()
    trainer = InSituTrainer(hw, UpdateSpec(algorithm="mixed_precision"), seed=0)
    delta = _deltas(hw, rng, 1, 0.01)[0]
    nonzero = 0
    for name, d in delta.items():
        d[::2] = 0.0
        nonzero += int(np.count_nonzero(hw.matrices[name].logical_change(*hw.split_bias(d))))
    before = _pulses(hw)
    trainer.apply(delta)
    assert _pulses(hw) - before == 3 * nonzero > 0


@pytest.mark.parametrize("algorithm", ["tiki_taka_v2", "chopped_tiki_taka_v2", "agad"])
def test_tiki_taka_family_is_its_numpy_steps_on_ideal_devices(algorithm, rng):
    settings = dict(threshold_steps=0.8, max_pulses=2, transfer_every=2, rows_per_transfer=3, fast_lr=0.7,
                    transfer_lr=0.37)
    if algorithm != "tiki_taka_v2":
        settings["chop_probability"] = 0.34
    trainer = _ideal_trainer(algorithm, seed=3, **settings)
    hw = trainer.hardware
    reads = []
    for fast in hw.auxiliary.values():
        def logged(x, reference=False, read=fast.matvec):
            out = read(x, reference)
            reads.extend(out.copy())
            return out
        fast.matvec = logged
    reference = NumpyTikiTaka(hw, trainer.update, seed=3, reads=reads)
    before, vectors_before = _pulses(hw), hw.counters().input_vectors
    for delta in _deltas(hw, rng, 40, 0.01):
        trainer.apply(delta)
        reference.apply(delta)
    fast = _weights(hw, {n: hw.auxiliary[n + "~fast"] for n in hw.matrices})
    slow = _weights(hw, hw.matrices)
    for n in hw.matrices:
        np.testing.assert_allclose(fast[n], reference.fast[n], rtol=0, atol=1e-12)
        np.testing.assert_allclose(slow[n], reference.slow[n], rtol=0, atol=1e-12)
        np.testing.assert_allclose(trainer.algorithm.buffer[n], reference.buffer[n], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(trainer.algorithm.chopper[n], reference.chopper[n])
        assert np.abs(reference.slow[n]).max() > 0  # something was transferred
    assert _pulses(hw) - before == reference.pulses
    # one input vector read per fast row transferred (the weight read-backs are device reads, not products)
    assert hw.counters().input_vectors - vectors_before == reference.row_reads == 20 * 3 * len(hw.matrices)
    if algorithm != "tiki_taka_v2":
        assert reference.flips > 10  # the choppers did flip


def test_sgd_is_the_direct_update_and_keeps_the_old_checkpoint_identity():
    trainer = _ideal_trainer("sgd")
    assert "update" not in trainer.identity() and trainer.algorithm.state() == {}
    assert "update" in _ideal_trainer("mixed_precision").identity()


def _assert_resumed_equals_straight(straight, resumed, stopped):
    """A resumed trainer's whole state (chip, buffers, generators, counters) and energy equal an unbroken
    one's, and it wrote after the resume."""
    a, b = straight.state(), resumed.state()
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert straight.hardware.energy() == resumed.hardware.energy()
    assert _pulses(resumed.hardware) > _pulses(stopped.hardware)  # (the resumed part wrote)


@pytest.mark.parametrize("algorithm, preset", [(a, "hfo2_soft_bounds") for a in ALGORITHMS]
                         + [("mixed_precision", "li2019")])
def test_a_resume_equals_never_stopping(algorithm, preset, rng):
    device = crossbar.preset(preset)
    settings = {"chop_probability": 0.3} if algorithm in ("chopped_tiki_taka_v2", "agad") else {}

    def trainer():
        net = make_network(3, [4], 2, seed=0)
        hw = HardwareNetwork(net, ChipSpec(preset=preset, device=device, encoding=Encoding(scale="fixed")), seed=5)
        hw.initialize()
        return InSituTrainer(hw, UpdateSpec(algorithm=algorithm, **settings), seed=5)

    straight, stopped = trainer(), trainer()
    deltas = _deltas(straight.hardware, rng, 12, 0.05 if preset == "li2019" else 0.01)  # (li2019: past 2 sigma / k)
    for d in deltas:
        straight.apply(d)
    for d in deltas[:5]:
        stopped.apply(d)
    saved = {k: np.copy(v) for k, v in stopped.state().items()}
    resumed = trainer()
    resumed.load_state(saved, "checkpoint")
    for d in deltas[5:]:
        resumed.apply(d)
    _assert_resumed_equals_straight(straight, resumed, stopped)


def test_the_settings_are_validated():
    with pytest.raises(ValueError, match=r"update.algorithm='adam' is not allowed; choose one of \['agad'"):
        UpdateSpec(algorithm="adam")
    with pytest.raises(ValueError, match=r"update.chop_probability=0.5 is not allowed with update.algorithm="
                                         r"'tiki_taka_v2', which does not use it"):
        UpdateSpec(algorithm="tiki_taka_v2", chop_probability=0.5)
    with pytest.raises(ValueError, match="threshold_steps"):
        UpdateSpec(algorithm="mixed_precision", threshold_steps=0.0)
    with pytest.raises(ValueError, match="two-pulse"):
        net = make_network(3, [4], 2, seed=0)
        InSituTrainer(HardwareNetwork(net, ChipSpec(preset="li2019"), seed=0), UpdateSpec(algorithm="tiki_taka_v2"))


def test_fast_arrays_need_room_and_say_so():
    net = make_network(3, [4], 2, seed=0)
    small = crossbar.ArraySpec(rows=8, cols=8)
    needed = len(HardwareNetwork(net, ChipSpec(preset="hfo2_soft_bounds", array=small), seed=0).chip.arrays)
    full = dataclasses.replace(small, count=needed)  # room for the network's matrices only
    hw = HardwareNetwork(net, ChipSpec(preset="hfo2_soft_bounds", array=full), seed=0)
    with pytest.raises(ValueError, match="fast arrays need room beside the network's: raise array.count"):
        InSituTrainer(hw, UpdateSpec(algorithm="tiki_taka_v2"))


def test_a_saved_chip_with_fast_arrays_loads_with_them(tmp_path, rng):
    trainer = _ideal_trainer("tiki_taka_v2")
    for d in _deltas(trainer.hardware, rng, 3, 0.01):
        trainer.apply(d)
    path = str(tmp_path / "chip.npz")
    trainer.hardware.save(path)
    back = HardwareNetwork.load(path)
    assert sorted(back.auxiliary) == ["head.W~fast", "layer0.W~fast"]
    for name, mm in trainer.hardware.auxiliary.items():
        np.testing.assert_array_equal(back.auxiliary[name].read_weights()[0], mm.read_weights()[0])


def test_an_experiment_file_names_the_algorithm():
    from xbar.experiment import Experiment, li2019

    exp = li2019("vowels", epochs=1).with_values({"update.algorithm": "mixed_precision",
                                                  "hardware.preset": "hfo2_soft_bounds"})
    assert exp.to_dict()["update"] == {"algorithm": "mixed_precision"}
    assert Experiment.from_dict(exp.to_dict()) == exp
    assert "update" not in li2019("vowels", epochs=1).to_dict()
    with pytest.raises(ValueError, match="hardware.way='ex_situ'"):
        exp.with_values({"hardware.way": "ex_situ"})
    assert set(UPDATE_ALGORITHMS.names()) >= {"sgd", *ALGORITHMS}
    assert dataclasses.replace(exp.update, max_pulses=2).max_pulses == 2


def _tracking_error(algorithm, seed, settings, steps=600, lr=0.1, noise=1.0):
    """RMS distance (weight units) of the read weights from a target over the last 50 of ``steps`` noisy
    gradient steps ``-lr (W - target) + lr noise N(0, 1)`` (a stochastic gradient of a quadratic loss), on
    soft-bounds devices whose windows spread 20 % from device to device (so do their symmetry points)."""
    device = crossbar.preset("hfo2_soft_bounds").replace(window_spread_sigma_relative=0.2)
    net = make_network(3, [4], 4, seed=0)
    hw = HardwareNetwork(net, ChipSpec(preset="hfo2_soft_bounds", device=device, encoding=Encoding(scale="fixed")),
                         seed=seed)
    hw.initialize()
    trainer = InSituTrainer(hw, UpdateSpec(algorithm=algorithm, **settings), seed=seed)
    rng = np.random.default_rng(seed)
    target = {n: rng.uniform(-0.3, 0.3, net.params[n].shape) for n in hw.matrices}
    errors = []
    for step in range(steps):
        w = hw.read_weights()
        trainer.apply({n: -lr * (w[n] - target[n]) + noise * lr * rng.standard_normal(w[n].shape)
                       for n in hw.matrices})
        if step >= steps - 50:
            errors.append(np.sqrt(np.mean(np.concatenate([(w[n] - target[n]).ravel() for n in w]) ** 2)))
    return float(np.mean(errors))


@pytest.mark.slow
def test_the_published_ordering_on_soft_bounds_devices_with_offsets():
    """Rasch et al. 2024 (Nat. Commun. 15, 1155), qualitatively: with stochastic gradients on soft-bounds
    devices whose symmetry points scatter, chopped Tiki-Taka v2 and AGAD track the optimum better than
    Tiki-Taka v2, which tracks it better than plain SGD pulses. (Measured on this machine: SGD 0.154,
    TTv2 0.145, chopped 0.093, AGAD 0.077, mean of 2 seeds.)"""
    transfer = dict(fast_lr=40.0, transfer_lr=0.005, rows_per_transfer=100)
    chopped = dict(transfer, chop_probability=0.02)
    error = {name: np.mean([_tracking_error(name, seed, settings) for seed in (0, 1)])
             for name, settings in (("sgd", {}), ("tiki_taka_v2", transfer), ("chopped_tiki_taka_v2", chopped),
                                    ("agad", chopped))}
    assert error["tiki_taka_v2"] < error["sgd"]
    assert min(error["chopped_tiki_taka_v2"], error["agad"]) < 0.8 * error["tiki_taka_v2"]
    assert error["agad"] < error["chopped_tiki_taka_v2"]


def test_an_experiment_refuses_what_cannot_carry_its_update_scale_or_compensation():
    from xbar.experiment import li2019

    exp = li2019("vowels", epochs=1)
    with pytest.raises(ValueError, match="update.algorithm='tiki_taka_v2' with device 'li2019': it counts whole "
                                         "pulses"):
        exp.with_values({"update.algorithm": "tiki_taka_v2", "array.count": 8})
    assert exp.with_values({"update.algorithm": "mixed_precision"}).update.algorithm == "mixed_precision"
    sliced = exp.with_values({"hardware.way": "ex_situ_one_shot", "hardware.placement": "first_fit",
                              "slicing.weight_bits": 8})
    with pytest.raises(ValueError, match="encoding.scale_by='column' with slicing.weight_bits"):
        sliced.with_values({"encoding.scale_by": "column"})
    with pytest.raises(ValueError, match="hardware.drift_compensation='global' with slicing.weight_bits"):
        sliced.with_values({"hardware.drift_compensation": "global"})


# ------------------------------------------------------------------ stochastic pulse trains
def _factors(hw, rng, n_terms=40, zero_terms=3):
    """Random rank-one factors of each matrix (network-shaped rows ``[x; h; 1]``) and their gradients."""
    factors, grads = {}, {}
    for name in hw.matrices:
        rows, cols = hw.network.params[name].shape
        x = rng.uniform(-1, 1, (n_terms, rows))
        x[:, -1] = 1.0
        d = 0.05 * rng.standard_normal((n_terms, cols))
        d[:zero_terms] = 0.0  # (terms of zeros send nothing)
        factors[name], grads[name] = (x, d), x.T @ d
    return factors, grads


def test_the_factors_of_backward_are_its_gradients(rng):
    """``inputs.T @ errors`` of each matrix's factors, times its structural mask, is its gradient (1e-12):
    LSTM through the compiled kernel, GRU and peephole step by step, and an LSTM on a chip."""
    x = rng.uniform(-1, 1, (5, 7, 3))
    mask = np.ones((5, 7))
    mask[1, 5:] = 0.0
    for cell, mode in (("lstm", "seq2vec"), ("gru", "seq2seq"), ("peephole", "seq2vec")):
        net = make_network(3, [4, 3], 2, seed=1, cell=cell, mode=mode)
        y = rng.uniform(0, 1, (5, 2)) if mode == "seq2vec" else rng.uniform(0, 1, (5, 7, 2))
        factors = {}
        _, grads = net.gradients(x, y, mask, factors=factors)
        assert sorted(factors) == sorted(net.matrix_names())
        for name, (inputs, errors) in factors.items():
            np.testing.assert_allclose((inputs.T @ errors) * net.masks.get(name, 1.0), grads[name],
                                       rtol=0, atol=1e-12, err_msg=f"{cell} {name}")
    hw = HardwareNetwork(make_network(3, [4], 2, seed=0), ChipSpec(preset="hfo2_soft_bounds"), seed=0)
    hw.initialize()
    factors = {}
    _, grads = hw.gradients(x, rng.uniform(0, 1, (5, 7, 2)), mask, factors=factors)
    for name, (inputs, errors) in factors.items():
        np.testing.assert_allclose(inputs.T @ errors, grads[name], rtol=0, atol=1e-12)


def test_coincidences_have_the_mean_and_variance_of_independent_slots(rng):
    """Over many draws the net pulses ``raising - lowering`` of each pair average ``-lr sum_n x d`` (no
    saturation) with the variance of independent slots, ``sum_n BL r (1 - r)`` where ``r = p_i q_j`` is a
    slot's chance of a coincidence; z-scores of the 48 pairs: mean ~ 0, sd ~ 1."""
    from lstm.updates.stochastic import coincidences

    x, d = rng.uniform(-1, 1, (6, 4)), rng.uniform(-1, 1, (6, 12))
    lr, bl, draws = 0.3, 16, 600
    base = np.sqrt(lr / bl)
    ratio = np.sqrt(np.abs(d).max(axis=1) / np.abs(x).max(axis=1))
    r = (np.abs(x) * (base * ratio)[:, None])[:, :, None] * (np.abs(d) * (base / ratio)[:, None])[:, None, :]
    variance = (bl * r * (1 - r)).sum(axis=0)
    nets = np.empty((draws, 4, 12))
    totals = np.empty(draws)
    for k in range(draws):
        raising, lowering, saturated = coincidences(x, d, lr, bl, rng)
        assert saturated == 0 and np.all(raising == np.rint(raising))
        nets[k], totals[k] = raising - lowering, (raising + lowering).sum()
    z = (nets.mean(axis=0) - (-lr * x.T @ d)) / np.sqrt(variance / draws)
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and 0.75 < z.std() < 1.25
    assert abs(totals.mean() - (bl * r).sum()) < 4 * np.sqrt((bl * r * (1 - r)).sum() / draws)
    # without update management both streams carry sqrt(lr / BL); a probability past 1 is held and counted
    assert coincidences(x, d, 500.0, bl, rng)[2] > 0
    raising, lowering, _ = coincidences(x[:1] * 0, d[:1], lr, bl, rng)
    assert not raising.any() and not lowering.any()


def _numpy_coincidences(x, d, lr, bl, rng):
    """The coincidences of :func:`lstm.updates.stochastic.coincidences`, term by term and slot by slot from
    the same draws (each live term's rows' streams, then its columns'), and the terms with a probability past
    1 (a draw below it is then always below: the stream fires in every slot)."""
    base = np.sqrt(lr / bl)
    raising, lowering = np.zeros((x.shape[1], d.shape[1])), np.zeros((x.shape[1], d.shape[1]))
    saturated = 0
    for n in range(x.shape[0]):
        if np.abs(x[n]).max() == 0 or np.abs(d[n]).max() == 0:
            continue
        ratio = np.sqrt(np.abs(d[n]).max() / np.abs(x[n]).max())
        p, q = np.abs(x[n]) * base * ratio, np.abs(d[n]) * base / ratio
        saturated += int(p.max() > 1 or q.max() > 1)
        slots = rng.random((x.shape[1] + d.shape[1], bl))
        rows, cols = slots[:x.shape[1]] < p[:, None], slots[x.shape[1]:] < q[:, None]
        for i in range(x.shape[1]):
            for j in range(d.shape[1]):
                both = int(np.count_nonzero(rows[i] & cols[j]))
                if x[n, i] * d[n, j] < 0:
                    raising[i, j] += both
                elif x[n, i] * d[n, j] > 0:
                    lowering[i, j] += both
    return raising, lowering, saturated


def test_coincidences_do_not_depend_on_the_chunks_and_check_their_arguments(rng, monkeypatch):
    """Terms drawn and counted many chunks at a time give the numbers of the term-by-term reference; bad
    arguments are refused by name."""
    from lstm.updates import stochastic

    x, d = rng.uniform(-1, 1, (30, 5)), rng.uniform(-1, 1, (30, 7))
    x[3] = 0.0
    monkeypatch.setattr(stochastic, "CHUNK_SLOTS", 4 * (5 + 7) * 9)  # four terms a chunk
    got = stochastic.coincidences(x, d, 0.8, 9, np.random.default_rng(3))
    want = _numpy_coincidences(x, d, 0.8, 9, np.random.default_rng(3))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="learning_rate"):
        stochastic.coincidences(x, d, 0.0, 9, rng)
    with pytest.raises(ValueError, match="bit_length=0 is not allowed"):
        stochastic.coincidences(x, d, 0.8, 0, rng)
    with pytest.raises(ValueError, match="errors has shape"):
        stochastic.coincidences(x, d[:4], 0.8, 9, rng)
    with pytest.raises(ValueError, match="inputs"):
        stochastic.coincidences(np.full((30, 5), np.nan), d, 0.8, 9, rng)


def test_stochastic_pulses_are_their_numpy_steps_on_ideal_devices(rng):
    """On ideal linear devices each weight moves by ``(raising - lowering) epsilon``, with the coincidences
    counted slot by slot from the same draws; a pulse on each device of a pair per coincidence."""
    trainer = _ideal_trainer("sgd", pulse_trains="stochastic", bit_length=8)
    hw = trainer.hardware
    reference = np.random.default_rng(np.random.SeedSequence([0, UPDATE_STREAM]).spawn(1)[0])
    held = _weights(hw, hw.matrices)
    pulses, before, saturated_terms = 0, _pulses(hw), 0
    lr = 0.7
    for _ in range(3):
        factors, grads = _factors(hw, rng)
        trainer.algorithm.take_factors(factors, grads)
        trainer.apply({name: -lr * g for name, g in grads.items()})
        for name, mm in hw.matrices.items():
            x, d = factors[name]
            inputs = logical_inputs(mm, x)
            raising, lowering, saturated = _numpy_coincidences(inputs, d / mm.pulse_step(), lr, 8, reference)
            saturated_terms += saturated
            held[name] = held[name] + (raising - lowering) * mm.pulse_step()
            pulses += 2 * int((raising + lowering).sum())
    got = _weights(hw, hw.matrices)
    for name in held:
        np.testing.assert_allclose(got[name], held[name], rtol=0, atol=1e-12)
    assert _pulses(hw) - before == pulses > 0
    assert trainer.algorithm.pulse_trains.saturated_terms == saturated_terms


def test_stochastic_pulses_onto_fast_arrays_are_their_numpy_steps(rng):
    """Tiki-Taka with stochastic pulse trains: the fast arrays get the coincidences of ``fast_lr`` times the
    SGD terms, each row's inputs through its chopper (here, before any read flips one, all +1 but those set
    to -1 by hand); the weights are not touched until a transfer."""
    trainer = _ideal_trainer("tiki_taka_v2", pulse_trains="stochastic", bit_length=8, fast_lr=3.0,
                             transfer_every=100)
    hw, algorithm = trainer.hardware, trainer.algorithm
    for name in algorithm.chopper:
        algorithm.chopper[name][::2] = -1.0
    reference = np.random.default_rng(np.random.SeedSequence([0, UPDATE_STREAM]).spawn(1)[0])
    held = {name: np.zeros((mm.n_logical, mm.n_out)) for name, mm in hw.matrices.items()}
    weights_before = _weights(hw, hw.matrices)
    for _ in range(2):
        factors, grads = _factors(hw, rng)
        algorithm.take_factors(factors, grads)
        trainer.apply({name: -0.4 * g for name, g in grads.items()})
        for name, mm in hw.matrices.items():
            fast = algorithm.fast[name]
            inputs = logical_inputs(mm, factors[name][0]) * algorithm.chopper[name][None, :]
            raising, lowering, _ = _numpy_coincidences(inputs, factors[name][1] / fast.pulse_step(), 3.0 * 0.4, 8,
                                                       reference)
            held[name] += (raising - lowering) * fast.pulse_step()
    for name in held:
        np.testing.assert_allclose(algorithm.fast[name].read_weights()[0], held[name], rtol=0, atol=1e-12)
        assert np.abs(held[name]).max() > 0
    for name, w in _weights(hw, hw.matrices).items():
        np.testing.assert_array_equal(w, weights_before[name])


def test_stochastic_pulses_need_plain_sgd_and_their_factors(rng):
    trainer = _ideal_trainer("sgd", pulse_trains="stochastic")
    factors, grads = _factors(trainer.hardware, rng)
    with pytest.raises(ValueError, match="needs each mini-batch's rank-one factors"):
        trainer.apply({name: -0.1 * g for name, g in grads.items()})
    trainer.algorithm.take_factors(factors, grads)
    with pytest.raises(ValueError, match="not a positive multiple of the gradient"):
        trainer.apply({name: -0.1 * g / (np.abs(g) + 1.0) for name, g in grads.items()})  # (RMSprop-like)
    trainer.algorithm.take_factors({name: (x[:, 1:], d) for name, (x, d) in factors.items()}, grads)
    with pytest.raises(ValueError, match=r"factors\['layer0.W'\] inputs has shape"):
        trainer.apply({name: -0.1 * g for name, g in grads.items()})
    trainer.algorithm.take_factors(factors, grads)
    trainer.apply({name: 1e3 * -g for name, g in grads.items()})  # (streams past probability 1)
    assert trainer.algorithm.counts()["saturated_terms"] > 0
    from xbar.experiment import li2019

    exp = li2019("vowels", epochs=1, preset="hfo2_soft_bounds")
    with pytest.raises(ValueError, match="update.pulse_trains='stochastic' with training.optimizer='rmsprop'"):
        exp.with_values({"update.pulse_trains": "stochastic"})
    sgd = exp.with_values({"update.pulse_trains": "stochastic", "training.optimizer": "sgd"})
    assert sgd.update.bit_length == 31 and sgd.to_dict()["update"] == {"pulse_trains": "stochastic"}
    with pytest.raises(ValueError, match="two-pulse"):
        li2019("vowels", epochs=1).with_values({"update.pulse_trains": "stochastic", "training.optimizer": "sgd"})
    with pytest.raises(ValueError, match="update.pulse_trains='stochastic' with hardware.way='ex_situ_one_shot'"):
        sgd.with_values({"hardware.way": "ex_situ_one_shot"})
    with pytest.raises(ValueError, match="update.pulse_trains='stochastic' is not allowed with update.algorithm="
                                         "'mixed_precision'"):
        UpdateSpec(algorithm="mixed_precision", pulse_trains="stochastic")
    with pytest.raises(ValueError, match="update.bit_length=8 is not allowed"):
        UpdateSpec(bit_length=8)


@pytest.mark.parametrize("algorithm, settings", [("sgd", {}), ("agad", {"chop_probability": 0.3})])
def test_stochastic_pulses_resume_equals_never_stopping_and_train_through_the_trainer(algorithm, settings, rng):
    """A resume from a checkpoint equals never stopping (the streams' generator is saved); through the
    trainer's own gradients the factors arrive and the loss of a batch falls."""
    def trainer():
        net = make_network(3, [4], 2, seed=0)
        hw = HardwareNetwork(net, ChipSpec(preset="hfo2_soft_bounds", encoding=Encoding(scale="fixed")), seed=5)
        hw.initialize()
        return InSituTrainer(hw, UpdateSpec(algorithm=algorithm, pulse_trains="stochastic", **settings), seed=5)

    straight, stopped = trainer(), trainer()
    updates = [_factors(straight.hardware, rng) for _ in range(6)]
    for factors, grads in updates:
        straight.algorithm.take_factors(factors, grads)
        straight.apply({name: -0.5 * g for name, g in grads.items()})
    for factors, grads in updates[:2]:
        stopped.algorithm.take_factors(factors, grads)
        stopped.apply({name: -0.5 * g for name, g in grads.items()})
    resumed = trainer()
    resumed.load_state({k: np.copy(v) for k, v in stopped.state().items()}, "checkpoint")
    for factors, grads in updates[2:]:
        resumed.algorithm.take_factors(factors, grads)
        resumed.apply({name: -0.5 * g for name, g in grads.items()})
    _assert_resumed_equals_straight(straight, resumed, stopped)

    from lstm.train import Dataset

    fresh = trainer()
    batch = Dataset(rng.uniform(-1, 1, (20, 6, 3)), rng.uniform(0, 1, (20, 6, 2)), np.ones((20, 6)))
    first, _ = fresh.gradients(batch)
    for _ in range(15):
        _, grads = fresh.gradients(batch)
        fresh.apply({name: -2.0 * g for name, g in grads.items()})
    assert fresh.gradients(batch)[0] < first
