"""``python -m unet_core``: demo, train, predict, evaluate (``commands``); argument checks (``checks``)."""

from __future__ import annotations

from .commands import main

__all__ = ['main']
