"""The checks every config and input goes through."""

import numpy as np
import pytest

from crossbar.validation import as_float_array


def test_finite_values_pass_even_when_their_sum_overflows():
    out = as_float_array("x", [1e308, 1e308, -5.0])
    assert out.dtype == np.float64 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, [1e308, 1e308, -5.0])


@pytest.mark.parametrize("bad, count", [([1.0, np.nan], 1), ([np.inf, -np.inf, 2.0], 2), ([1e308, 1e308, np.nan], 1)])
def test_nan_and_infinity_are_refused_with_their_count(bad, count):
    with pytest.raises(ValueError, match=rf"x holds {count} NaN or infinite value\(s\)"):
        as_float_array("x", bad)


def test_shape_and_emptiness_are_named():
    with pytest.raises(ValueError, match=r"x has shape \(2, 3\); shape \(3, any\) required"):
        as_float_array("x", np.zeros((2, 3)), shape=(3, None))
    with pytest.raises(ValueError, match="x is empty"):
        as_float_array("x", np.zeros((0, 3)), shape=(None, 3))
    with pytest.raises(ValueError, match="x could not be read"):
        as_float_array("x", ["a", "b"])
