"""Fig. 2: running a network. Mirror extrapolation and tiles on the pooling grid (``mirror``),
overlap-tile prediction (``tiling``: plan the tiles, run them), and the numerics of a forward pass (``precision``).
"""

from __future__ import annotations

from .mirror import mirror_pad, reflect_index, tile_origins
from .precision import (
    PRECISIONS,
    Precision,
    candidates,
    choose_precision,
    cpu_has_bf16,
    resolve_precision,
    warn_if_slow,
)
from .tiling import TilePlan, estimate_tile_memory, plan_tiles, predict_tiled, run_tiles

__all__ = [
    'mirror_pad',
    'reflect_index',
    'tile_origins',
    'Precision',
    'PRECISIONS',
    'cpu_has_bf16',
    'candidates',
    'choose_precision',
    'resolve_precision',
    'warn_if_slow',
    'estimate_tile_memory',
    'TilePlan',
    'plan_tiles',
    'run_tiles',
    'predict_tiled',
]
