"""Helpers of the book (not imported by ``import unet_core``): results records and provenance
(``report``, ``viz``), figures, and sliders that work without a kernel (``widgets``).
"""

from __future__ import annotations

__all__ = []
