"""Tables 1 and 2: the challenges' measures. ISBI 2012 pixel / Rand error and V_rand / V_info
(``isbi``), the warping error (``warping``, with Fiji's algorithm in ``warping_fiji``), the Cell Tracking
Challenge SEG measure (``seg``); ``common`` holds what the ISBI measures share.
"""

from __future__ import annotations

from .isbi import ISBI_THINNED_THRESHOLDS, ISBI_THRESHOLDS, pixel_error, rand_error, rand_scores, rand_scores_thinned
from .seg import seg_score, segmentation_error_masks, segmentation_errors
from .warping import simple_point_lut, warp_labels, warping_error

__all__ = [
    'ISBI_THINNED_THRESHOLDS',
    'ISBI_THRESHOLDS',
    'pixel_error',
    'rand_error',
    'rand_scores',
    'rand_scores_thinned',
    'seg_score',
    'segmentation_errors',
    'segmentation_error_masks',
    'simple_point_lut',
    'warp_labels',
    'warping_error',
]
