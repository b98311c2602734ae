"""The experiment file's ``[update]``: which algorithm writes in-situ updates, and its settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Optional

from crossbar.settings import check_settings, setting


def _algorithm_names():
    from lstm.updates.registry import UPDATE_ALGORITHMS  # (the registry imports the algorithms, which import this)

    return UPDATE_ALGORITHMS.names()


@dataclass(frozen=True)
class UpdateSpec:
    """How in-situ training writes each mini-batch's change onto the devices (validated when built).

    Parameters
    ----------
    algorithm : str
        ``sgd`` (at once, as conductance changes: Li et al.), ``mixed_precision`` (Nandakumar et al. 2020),
        ``tiki_taka_v2`` (Gokmen 2021), ``chopped_tiki_taka_v2`` or ``agad`` (Rasch et al. 2024), or a
        registered one (:func:`lstm.updates.register_update_algorithm`).
    threshold_steps : float
        A digital accumulator (mixed precision) or transfer buffer (Tiki-Taka) sends pulses to a weight once
        it holds this many of the weight's nominal pulse steps (:meth:`mapping.MappedMatrix.pulse_step`),
        > 0; then ``trunc`` of what it holds, at least one. On a device written by gate voltages
        (``li2019``, mixed precision only) this many write resolutions ``2 sigma / k``
        (:meth:`mapping.MappedMatrix.write_resolution`), then the whole accumulated change in one write.
    max_pulses : int, optional
        Most pulses a device gets at one transfer (>= 1); None: no limit.
    transfer_every : int
        Mini-batch updates between two transfers (mixed precision: of the whole accumulator; Tiki-Taka:
        of ``rows_per_transfer`` rows of each fast array), >= 1.
    rows_per_transfer : int
        Rows of each fast array read and transferred at one transfer, in turn (Tiki-Taka), >= 1 (more than a
        matrix has: each row once); None (the default): every row.
    fast_lr : float
        The fast array's change per unit of the optimizer's change (Tiki-Taka), > 0. The defaults of
        ``fast_lr``, ``transfer_lr``, ``chop_probability`` and ``rows_per_transfer`` are those that trained
        vowels best of the few measured (docs/physics.md, "Update algorithms").
    transfer_lr : float
        Fraction of a fast-array read that goes into the transfer buffer (Tiki-Taka), > 0.
    chop_probability : float
        Chopped Tiki-Taka: chance that a row's chopper flips after the row is read; AGAD: the chopper flips
        regularly, every ``round(1 / chop_probability)`` reads of the row. In (0, 1].
    pulse_trains : {"summed", "stochastic"}
        How ``sgd`` and the Tiki-Taka family write a mini-batch onto devices: its summed change as whole
        pulses (the default), or each rank-one term of the gradient as coincidences of stochastic row and
        column pulse streams (Gokmen and Vlasov 2016, :mod:`lstm.updates.stochastic`; plain SGD only).
    bit_length : int
        Slots of each row's and column's stochastic pulse stream, 1 to 10 000 (stochastic pulse trains).
    update_management : bool
        Balance the row and column streams of each rank-one term (stochastic pulse trains).
    """

    SECTION: ClassVar[str] = "update"

    algorithm: str = setting("sgd", choices=_algorithm_names, written_at_default=False,
                             doc="how in-situ training writes an update onto the devices")
    threshold_steps: float = setting(1.0, unit="steps", low=0.0, low_open=True, high=1e6, written_at_default=False,
                                     doc="accumulated change, in pulse steps, at which pulses are sent")
    max_pulses: Optional[int] = setting(None, unit="pulses", low=1, written_at_default=False,
                                        doc="most pulses a device gets at one transfer (omit: no limit)")
    transfer_every: int = setting(1, unit="updates", low=1, written_at_default=False,
                                  doc="mini-batch updates between two transfers")
    rows_per_transfer: Optional[int] = setting(None, unit="rows", low=1, written_at_default=False,
                                               doc="fast-array rows read and transferred at each transfer "
                                                   "(Tiki-Taka; omit: every row)")
    fast_lr: float = setting(10.0, unit="1", low=0.0, low_open=True, high=1e6, written_at_default=False,
                             doc="fast array's change per unit of the optimizer's change (Tiki-Taka)")
    transfer_lr: float = setting(0.1, unit="1", low=0.0, low_open=True, high=1e6, written_at_default=False,
                                 doc="fraction of a fast-array read the transfer buffer takes (Tiki-Taka)")
    chop_probability: float = setting(0.02, unit="1", low=0.0, low_open=True, high=1.0, written_at_default=False,
                                      doc="chance a row's chopper flips after its read (chopped Tiki-Taka, AGAD)")
    pulse_trains: str = setting("summed", choices=("summed", "stochastic"), written_at_default=False,
                                doc="a mini-batch's summed change as pulses, or its rank-one terms as "
                                    "stochastic pulse trains (sgd, Tiki-Taka; plain SGD)")
    bit_length: int = setting(31, unit="slots", low=1, high=10000, written_at_default=False,
                              doc="slots of each stochastic pulse stream (pulse_trains stochastic)")
    update_management: bool = setting(True, written_at_default=False,
                                      doc="balance the row and column streams of each term (pulse_trains "
                                          "stochastic)")

    def __post_init__(self):
        check_settings(self)
        from lstm.updates.registry import UPDATE_ALGORITHMS

        algorithm = UPDATE_ALGORITHMS.lookup(self.algorithm)
        if self.pulse_trains == "stochastic" and not algorithm.supports_pulse_trains:
            raise ValueError(f"update.pulse_trains='stochastic' is not allowed with update.algorithm="
                             f"{self.algorithm!r}, which writes no rank-one terms; use 'sgd' or a Tiki-Taka "
                             "algorithm")
        used = algorithm.settings_used + (("pulse_trains",) if algorithm.supports_pulse_trains else ())
        if self.pulse_trains == "stochastic":
            used = used + ("bit_length", "update_management")
        for f in dataclasses.fields(self):
            if f.name != "algorithm" and f.name not in used and getattr(self, f.name) != f.default:
                raise ValueError(f"update.{f.name}={getattr(self, f.name)!r} is not allowed with update.algorithm="
                                 f"{self.algorithm!r}, which does not use it; it uses "
                                 f"{list(used) or 'no setting'}")
