"""mapping: places weight matrices onto crossbar arrays.

Differential conductance pairs, the weight-to-conductance scale, bias rows,
tiling over fixed-size arrays and the layout. Imports ``crossbar`` only.
"""

__version__ = "0.1.0"
