"""The registered parts a read plan reads with, and the read's path for those its kernels do not compile.

A plan's cells follow the device's cell I-V law (:mod:`crossbar.devices.cells`)
and its converters the ADC's architecture
(:mod:`crossbar.circuits.adc_architectures`). The built-ins are compiled
into the read's kernels (:mod:`crossbar.read.kernels`); a registered law or
architecture is not, so the plan reads it through the kernels' numpy twin
(:func:`crossbar.read.kernels.read_product_reference`), given the law's
``f(V)`` and the architecture's compute step. A compiled session of reads (a
caller's compiled loop) cannot, and is refused; so is what a nonlinear cell
cannot be read with at all without a solve per input vector.

Voltages in volts, currents per siemens in amperes per siemens.
"""

from __future__ import annotations

import numpy as np

from crossbar.circuits.device_reads import cell_current_per_siemens
from crossbar.devices.cells import cell_iv_of


class ReadExtensions:
    """The cell law and ADC architecture of one plan, and what they allow.

    Parameters
    ----------
    device : crossbar.DeviceModel
    adc : crossbar.ADC or None
    arrays : sequence of arrays
        The plan's arrays (their peripherals decide what a nonlinear cell refuses).
    input_sum_weights : ndarray or None
        The plan's offset correction (linear in the drives: refused with nonlinear cells).
    """

    def __init__(self, device, adc, arrays, input_sum_weights):
        self.device = device
        self.cell = cell_iv_of(device)
        self.architecture = None if adc is None else adc.circuit.architecture
        if not self.cell.is_linear:
            self._check_nonlinear_cells(arrays, input_sum_weights)

    @property
    def compiled(self) -> bool:
        """Whether the read's compiled kernels compute the plan's cells and converters (the built-ins)."""
        return self.cell.compiled and (self.architecture is None or self.architecture.compiled)

    @property
    def twin_hooks(self) -> dict:
        """The keywords :func:`crossbar.read.kernels.read_product_reference` reads the extensions with (none
        for the built-ins: the tables say it all)."""
        hooks = {}
        if not self.cell.compiled:
            hooks["cell"] = self.cell.current_per_siemens
        if self.architecture is not None and not self.architecture.compiled:
            hooks["adc_codes"] = self.architecture.codes
        return hooks

    def current_per_siemens(self, volts) -> np.ndarray:
        """``f(V)`` of the cells at ``volts`` (V), A/S (the built-in: :func:`cell_current_per_siemens`)."""
        if self.cell.compiled:
            return cell_current_per_siemens(volts, self.device.iv_nonlinearity_per_volt)
        return self.cell.current_per_siemens(volts)

    def cycle_gain(self, dac) -> float:
        """The one gain 1-bit drives see on nonlinear cells, ``f(v_max) / v_max`` (``sinh(k v_max) / (k
        v_max)`` for the built-in law): their two levels bend to 0 and ``f(v_max)``, so the digital side
        divides it out after the ADC. 1 otherwise (multi-level drives bend each level differently: nothing
        single to divide)."""
        if self.cell.is_linear or dac is None or not dac.bit_serial or dac.bits_per_cycle != 1:
            return 1.0
        if self.cell.compiled:
            k = self.device.iv_nonlinearity_per_volt
            return float(np.sinh(k * dac.v_max) / (k * dac.v_max))
        return float(self.cell.current_per_siemens(np.array([dac.v_max]))[0] / dac.v_max)

    def refuse_compiled(self) -> None:
        """``ValueError`` where a compiled loop is asked to read what only the twin reads."""
        if not self.compiled:
            raise ValueError(
                f"the plan reads a registered {self._uncompiled()} that has no compiled kernel: a compiled session "
                "of reads cannot run it; read with ReadPlan.read (the numpy twin), e.g. "
                "lstm.HardwareNetwork(..., compiled=False)")

    def _uncompiled(self) -> str:
        parts = []
        if not self.cell.compiled:
            parts.append(f"cell I-V {self.device.cell_iv!r}")
        if self.architecture is not None and not self.architecture.compiled:
            parts.append(f"ADC architecture {self.architecture.circuit.kind!r}")
        return " and ".join(parts)

    def _law(self) -> str:
        if self.cell.compiled:
            return f"nonlinear cells (iv_nonlinearity_per_volt={self.device.iv_nonlinearity_per_volt:g} /V)"
        return f"nonlinear cells (cell_iv={self.device.cell_iv!r})"

    def _check_nonlinear_cells(self, arrays, input_sum_weights) -> None:
        """Refuse what a read of cells with a nonlinear I-V cannot do without a solve per input vector."""
        name = self.device.name
        for a in arrays:
            if a.peripherals.wires is not None or a.peripherals.read_scheme == "floating":
                raise ValueError(
                    f"device {name!r} has {self._law()}, read "
                    f"{'with wire resistance' if a.peripherals.wires is not None else 'through floating lines'}: "
                    "each cell's voltage then depends on the others, which needs a solve per input vector "
                    "(crossbar.solve_passive with a SinhCell, one array at a time); read grounded or 1T1R "
                    "without wires, or give linear cells")
            if not self.cell.compiled and a.peripherals.read_scheme == "v_half":
                raise ValueError(f"device {name!r} has {self._law()}, read with held lines (v_half): the held "
                                 "lines' current is the built-in law's; read grounded or 1T1R")
        if input_sum_weights is not None:
            raise ValueError(f"device {name!r} has {self._law()} "
                             "and the plan takes off a share of the input sum (offset slices): that correction "
                             "is linear in the drives; use differential slices or linear cells")
