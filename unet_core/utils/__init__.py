"""Shared helpers of every stage: argument checks that name the fix (``validation``), the machine
(``system``: device, memory budgets), files that are never half-written (``files``), and the
check cap of CI runs (``check_cap``). Imports nothing else of the package.
"""

from __future__ import annotations

from .check_cap import (
    CAP_BATCH,
    CAP_CROP,
    CAP_FRAMES,
    CAP_OUTPUT,
    ENV,
    cap,
    capped_batch,
    capped_count,
    capped_image,
    capped_repeat,
    capped_steps,
    label,
    results_dir,
)
from .system import resolve_device

__all__ = [
    'ENV',
    'CAP_BATCH',
    'CAP_CROP',
    'CAP_FRAMES',
    'CAP_OUTPUT',
    'cap',
    'label',
    'results_dir',
    'capped_steps',
    'capped_batch',
    'capped_repeat',
    'capped_count',
    'capped_image',
    'resolve_device',
]
