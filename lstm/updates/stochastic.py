"""``[update] pulse_trains = "stochastic"`` (Gokmen and Vlasov, Front. Neurosci. 10, 333 (2016)): each
rank-one term of a mini-batch's gradient reaches the devices as the coincidences of row and column pulse
streams, instead of the batch's summed change rounded to pulses.

Plain SGD changes a weight matrix by ``-lr sum_n x_n d_n^T``, summed over the time steps and sequences
``n`` of a mini-batch (``x_n`` the inputs the matrix saw, ``d_n`` the errors of its outputs; the factors of
:meth:`lstm.Network.backward`). For each ``n`` every row ``i`` sends a stream of ``bit_length`` (BL) slots
and fires in each with probability ``p_i = c_x |x_i|``, every column ``j`` with probability
``q_j = c_d |d_j| / epsilon_j`` (``epsilon_j`` the nominal pulse step of the column's weights,
:meth:`mapping.MappedMatrix.pulse_step`); pair ``(i, j)`` gets a pulse on each of its devices in every slot
where both fire, raising the weight where ``x_i d_j < 0`` and lowering it where ``x_i d_j > 0``. The
expected pulses, ``BL c_x c_d |x_i d_j| / epsilon_j``, are SGD's change in pulse steps when
``c_x c_d = lr / BL``: no multiplier forms the product, the devices' coincidences do. Update management
(Gokmen and Vlasov's, as in IBM aihwkit) balances the two streams of each ``n``:
``c_x = sqrt(lr / BL) sqrt(max|d / epsilon| / max|x|)``, ``c_d = sqrt(lr / BL) sqrt(max|x| /
max|d / epsilon|)``; without it ``c_x = c_d = sqrt(lr / BL)``. A probability above 1 fires in every slot,
which cuts that term's change (such terms are counted: ``saturated_terms``).

``sgd`` sends them onto the weights; the Tiki-Taka family onto its fast arrays, ``lr`` times ``fast_lr``,
each row's inputs through its chopper. A real array sends each ``n``'s streams in turn; here a mini-batch's
raising coincidences are sent first, then its lowering ones (two writes of whole pulses a matrix: what
differs from the order in turn is the devices' state between them, for a nonlinear device). Every
coincidence is a pulse counted in the chip's energy; a matrix's structural zeros (a GRU's) get none. The
time of the writes is counted as for any whole pulses (the sum over rows of each row's largest count, for
each of the two writes), not as the
``N x BL`` slots a real array would clock through. The slots come from a generator of their own, spawned
from the algorithm's, saved with a checkpoint.

It needs plain SGD: the optimizer's change must be a positive multiple of the gradient (no momentum,
RMSprop or Adam; a clip of the gradient's norm is a multiple), which each update checks and the experiment
refuses before anything trains.
"""

from __future__ import annotations

import json
from typing import Dict, Tuple

import numpy as np

from crossbar.validation import as_float_array, check_range
from mapping.encoding import bias_to_rows

CHUNK_SLOTS = 1 << 22
"""Slots (terms x (rows + columns) x ``bit_length``) drawn and counted together: bounds the memory of the
slots (32 MiB of draws), not the numbers (each term's slots are drawn in turn, its rows' then its columns',
whatever the chunk)."""


def coincidences(inputs: np.ndarray, errors: np.ndarray, learning_rate: float, bit_length: int,
                 rng: np.random.Generator, update_management: bool = True) -> Tuple[np.ndarray, np.ndarray, int]:
    """The coincidences of stochastic pulse streams for a sum of rank-one updates ``-lr sum_n x_n d_n^T``.

    Parameters
    ----------
    inputs : ndarray, shape (N, rows)
        ``x_n`` of each term (finite).
    errors : ndarray, shape (N, cols)
        ``d_n`` of each term, in pulse steps (divided by each column's step; finite).
    learning_rate : float
        ``lr`` (> 0).
    bit_length : int
        Slots of each stream (BL, >= 1).
    rng : numpy.random.Generator
        Draws: for each term with a non-zero input and error, ``rows + cols`` streams of BL uniform numbers,
        its rows' then its columns'.
    update_management : bool
        Balance the two streams of each term (see the module text).

    Returns
    -------
    raising, lowering : ndarray, shape (rows, cols)
        Whole pulses on each pair that raise (``x d < 0``) and that lower (``x d > 0``) the weight.
    saturated : int
        Terms where a probability was held at 1.
    """
    inputs = as_float_array("inputs", inputs, shape=(None, None))
    errors = as_float_array("errors", errors, shape=(inputs.shape[0], None))
    check_range("learning_rate", learning_rate, 0.0, low_open=True)
    if isinstance(bit_length, bool) or not isinstance(bit_length, (int, np.integer)) or bit_length < 1:
        raise ValueError(f"bit_length={bit_length!r} is not allowed; a whole number >= 1 is required")
    n_rows, n_cols = inputs.shape[1], errors.shape[1]
    raising, lowering = np.zeros((n_rows, n_cols)), np.zeros((n_rows, n_cols))
    x_max = np.abs(inputs).max(axis=1, initial=0.0)
    d_max = np.abs(errors).max(axis=1, initial=0.0)
    live = np.flatnonzero((x_max > 0) & (d_max > 0))  # (a term of zeros sends nothing)
    base = np.sqrt(learning_rate / bit_length)
    saturated = 0
    per_chunk = max(1, CHUNK_SLOTS // ((n_rows + n_cols) * bit_length))
    for start in range(0, live.size, per_chunk):
        terms = live[start:start + per_chunk]
        x, d = inputs[terms], errors[terms]
        if update_management:
            ratio = np.sqrt(d_max[terms] / x_max[terms])
            p, q = np.abs(x) * (base * ratio)[:, None], np.abs(d) * (base / ratio)[:, None]
        else:
            p, q = np.abs(x) * base, np.abs(d) * base
        saturated += int(np.count_nonzero((p.max(axis=1) > 1.0) | (q.max(axis=1) > 1.0)))
        slots = rng.random((terms.size, n_rows + n_cols, bit_length))
        row_fires = slots[:, :n_rows] < p[:, :, None]
        col_fires = slots[:, n_rows:] < q[:, :, None]
        # slots of all the chunk's terms side by side: a coincidence count is a product of 0/1 matrices
        x_up = (row_fires & (x > 0)[:, :, None]).transpose(1, 0, 2).reshape(n_rows, -1).astype(np.float64)
        x_down = (row_fires & (x < 0)[:, :, None]).transpose(1, 0, 2).reshape(n_rows, -1).astype(np.float64)
        d_up = (col_fires & (d > 0)[:, :, None]).transpose(1, 0, 2).reshape(n_cols, -1).astype(np.float64)
        d_down = (col_fires & (d < 0)[:, :, None]).transpose(1, 0, 2).reshape(n_cols, -1).astype(np.float64)
        raising += x_up @ d_down.T + x_down @ d_up.T
        lowering += x_up @ d_up.T + x_down @ d_down.T
    return raising, lowering, saturated


def logical_inputs(mm, inputs: np.ndarray) -> np.ndarray:
    """A matrix's network-shaped inputs (N, rows ``[x; h; 1]``) as the inputs of its logical rows (N,
    n_logical): the weight rows, then the bias rows, each driven by ``1 / (bias_input bias_rows)`` of the
    constant 1 (:func:`mapping.encoding.bias_to_rows`), none without a bias."""
    if not mm.bias:
        return inputs[:, :-1]
    unit = bias_to_rows(np.ones(1), mm.encoding)[:, 0]
    return np.concatenate((inputs[:, :-1], inputs[:, -1:] * unit[None, :]), axis=1)


def sgd_learning_rate(delta: Dict[str, np.ndarray], gradients: Dict[str, np.ndarray]) -> float:
    """The ``lr`` with ``delta = -lr gradient`` over the matrices of ``delta`` (0 for a zero gradient);
    ``ValueError`` when the change is not a positive multiple of the gradient (an optimizer other than plain
    SGD)."""
    g = np.concatenate([gradients[name].ravel() for name in delta])
    d = np.concatenate([delta[name].ravel() for name in delta])
    norm = float(g @ g)
    if norm == 0.0:
        return 0.0
    lr = -float(d @ g) / norm
    if lr <= 0.0 or np.max(np.abs(d + lr * g)) > 1e-9 * max(float(np.max(np.abs(d))), 1e-300):
        raise ValueError("update.pulse_trains='stochastic' writes plain SGD's rank-one terms; the optimizer's "
                         "change is not a positive multiple of the gradient: use training.optimizer 'sgd' with "
                         "momentum 0")
    return lr


class StochasticPulseTrains:
    """Rank-one terms onto a matrix's pairs as coincidences of pulse streams (see the module text).

    Parameters
    ----------
    spec : lstm.updates.UpdateSpec
        ``bit_length`` and ``update_management``.
    rng : numpy.random.Generator
        The streams' slots (its own stream, saved with :meth:`state`).
    """

    def __init__(self, spec, rng: np.random.Generator):
        self.spec = spec
        self.rng = rng
        self.saturated_terms = 0

    def write(self, mm, inputs: np.ndarray, errors: np.ndarray, learning_rate: float, mask=None) -> int:
        """Send ``-learning_rate sum_n inputs_n errors_n^T`` (weight units) to ``mm``'s pairs as coincidences:
        ``inputs`` (N, n_logical), ``errors`` (N, n_out); ``mask`` (bool, (n_logical, n_out)) the pairs that
        may get pulses. The raising pulses first, then the lowering ones. Returns the pulses sent."""
        raising, lowering, saturated = coincidences(inputs, errors / mm.pulse_step(), learning_rate,
                                                    self.spec.bit_length, self.rng, self.spec.update_management)
        self.saturated_terms += saturated
        if mask is not None:
            raising, lowering = raising * mask, lowering * mask
        return mm.apply_pulse_counts(raising) + mm.apply_pulse_counts(-lowering)

    def state(self) -> Dict[str, np.ndarray]:
        """The generator's state (JSON text) and the saturated terms so far, as named arrays."""
        return {"rng": np.array(json.dumps(self.rng.bit_generator.state)),
                "saturated_terms": np.array(self.saturated_terms, dtype=np.int64)}

    def load_state(self, state: Dict[str, np.ndarray], source: str = "state") -> None:
        """Take a :meth:`state`; ``ValueError`` naming ``source`` when it is malformed."""
        if set(state) != {"rng", "saturated_terms"}:
            raise ValueError(f"{source}: pulse-train state {sorted(state)}; ['rng', 'saturated_terms'] expected")
        saturated = np.asarray(state["saturated_terms"], dtype=np.int64)
        if saturated.shape != () or saturated < 0:
            raise ValueError(f"{source}: saturated_terms {saturated.tolist()}; one count >= 0 expected")
        try:
            self.rng.bit_generator.state = json.loads(str(state["rng"]))
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"{source}: the pulse trains' random generator cannot be restored ({error})") from None
        self.saturated_terms = int(saturated)
