"""Fitting devices to measured data: an offline tool above the physics it fits.

:func:`~crossbar.fitting.device_fit.fit_device` turns measured pulse traces into a device (a pulse law or
a table of steps) with a goodness-of-fit report. Nothing else in :mod:`crossbar` imports this package.
"""
