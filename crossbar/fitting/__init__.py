"""Fitting devices to measured data: an offline tool above the physics it fits.

:mod:`~crossbar.fitting.device_fit` turns measured pulse traces into a device (a table of steps,
:func:`~crossbar.fitting.device_fit.fit_table`, or the best of the pulse laws,
:func:`~crossbar.fitting.device_fit.fit_parametric`) with a goodness-of-fit report
(:func:`~crossbar.fitting.device_fit.fit_report`). Nothing else in :mod:`crossbar` imports this package.
"""
