"""Numerics under the physics: counter-based random streams, float32 maths, SIMD product blocks, rounding.

Nothing here knows a device or a circuit; every kernel is beside its numpy twin.
"""
