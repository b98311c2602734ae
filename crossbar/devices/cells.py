"""Cell I-V laws as an extension point: a cell's read current ``I = G f(V)``.

A law is a :class:`CellIV` subclass registered in :data:`CELL_IV_MODELS`
under the word :attr:`crossbar.DeviceModel.cell_iv` names it by; it is built
from the device model and gives :meth:`CellIV.current_per_siemens`, ``f(V)``
(amperes per siemens of the cell's conductance ``G``). Every cell of this form
reads by the network read's one rule: a column current is ``sum_i G_ij
f(V_i)``, so a read takes a registered law through the read's numpy twin
(:func:`crossbar.read.kernels.read_product_reference`) with no new kernel. The
built-in ``sinh`` law, ``f(V) = sinh(k V) / k`` with ``k`` the device's
``iv_nonlinearity_per_volt`` (``V`` at ``k = 0``), is compiled into the read's
kernels.

It lives with the devices (not the circuits) because the device model names
it, and the devices sit below the circuits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from crossbar.registry import Registry


SLOPE_STEP_VOLTS = 1e-6
"""Half-width, V, of the central difference by which a law without a closed-form slope is differentiated (its
error, the third derivative times h^2 / 6, is far below a Newton solve's tolerance for a smooth law)."""


class CellIV(ABC):
    """Interface of a cell I-V law ``I = G f(V)`` (see the module text).

    Parameters
    ----------
    device : crossbar.DeviceModel
        The device whose cells these are (a law may read its settings).

    Attributes
    ----------
    compiled : bool
        Whether the read's compiled kernels compute the law (only the built-in ``sinh``).
    """

    compiled = False

    def __init__(self, device):
        self.device = device

    @abstractmethod
    def current_per_siemens(self, volts) -> np.ndarray:
        """``f(V)``: a cell's current per siemens of its conductance at voltages ``volts`` (V), A/S, odd in
        ``V`` (a negative drive gives the negative current)."""

    def slope_per_siemens(self, volts) -> np.ndarray:
        """``f'(V)``, per volt of ``volts`` (V): what a solve of a passive array
        (:func:`crossbar.solve_passive` with a :class:`crossbar.circuits.passive.LawCell`) steps by. Optional:
        a network read needs only :meth:`current_per_siemens`. By default a central difference of
        :meth:`current_per_siemens` over :data:`SLOPE_STEP_VOLTS`; a law with a closed form gives it instead."""
        v = np.asarray(volts, dtype=np.float64)
        return (self.current_per_siemens(v + SLOPE_STEP_VOLTS)
                - self.current_per_siemens(v - SLOPE_STEP_VOLTS)) / (2.0 * SLOPE_STEP_VOLTS)

    @property
    def is_linear(self) -> bool:
        """Whether ``f(V) = V`` (what the linear-only corrections of a read need)."""
        return False


class SinhCellIV(CellIV):
    """``f(V) = sinh(k V) / k``, ``k`` the device's ``iv_nonlinearity_per_volt`` (``V`` at ``k = 0``)."""

    compiled = True

    def current_per_siemens(self, volts):
        k = self.device.iv_nonlinearity_per_volt
        if k == 0.0:
            return np.asarray(volts, dtype=np.float64)
        return np.sinh(k * np.asarray(volts, dtype=np.float64)) / k

    def slope_per_siemens(self, volts):
        return np.cosh(self.device.iv_nonlinearity_per_volt * np.asarray(volts, dtype=np.float64))

    @property
    def is_linear(self) -> bool:
        return self.device.iv_nonlinearity_per_volt == 0.0


CELL_IV_MODELS = Registry("cell I-V law", CellIV)
"""The cell I-V laws by the word :attr:`crossbar.DeviceModel.cell_iv` names them by."""
CELL_IV_MODELS.register("sinh", SinhCellIV, builtin=True)


def register_cell_iv(name: str, cls: type) -> type:
    """Register a :class:`CellIV` subclass under ``name`` (see :meth:`crossbar.registry.Registry.register`)."""
    return CELL_IV_MODELS.register(name, cls)


def cell_iv_names():
    """The registered cell I-V laws' names (the allowed words of ``device.cell_iv``)."""
    return CELL_IV_MODELS.names()


def cell_iv_of(device) -> CellIV:
    """The cell I-V law of ``device``, built."""
    return CELL_IV_MODELS.lookup(device.cell_iv)(device)
