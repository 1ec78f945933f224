"""Round to nearest: the integers calibration already chose, unchanged (the 2021-style baseline).

Each weight is rounded to the nearest point of its layer's grid at the scheme's weight scale
(min-max or MSE-optimal clipping, schemes.py); activation ranges are the observers'.
"""
from . import register_method


@register_method("rtn", needs_data=False)
def rtn(fp32_model, qmodel, batches):
    """Nothing to optimise: `freeze` has rounded every weight to nearest."""
