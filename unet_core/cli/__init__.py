"""``python -m unet_core``: demo, train, predict, evaluate (``main``); argument checks (``checks``).
"""
from __future__ import annotations

from .main import main

__all__ = ['main']
