"""Sec. 3 and Eq. 1: training. The loss (``loss``), the hyper-parameters (``config``), the loop
(``loop``) and its stages (``prepare``: set-up; ``resume``: the resume policy; ``step``: one step and
the reads of the loss), checkpoints (``checkpoint``), several processes (``distributed``) and the
measured peak memory of a step (``peak_memory``).
"""

from __future__ import annotations

from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .config import TrainConfig, TrainResult, apply_check_cap, learning_rate_at
from .distributed import (
    all_mean,
    barrier,
    broadcast_object,
    check_resume_world,
    dropout_seed,
    init_from_env,
    rank_items,
    step_loss,
    world,
)
from .loop import train
from .loss import WeightedCrossEntropy, weighted_cross_entropy
from .peak_memory import measure_peak_memory

__all__ = [
    'save_checkpoint',
    'load_checkpoint',
    'model_from_checkpoint',
    'init_from_env',
    'world',
    'rank_items',
    'all_mean',
    'step_loss',
    'dropout_seed',
    'broadcast_object',
    'barrier',
    'check_resume_world',
    'apply_check_cap',
    'TrainConfig',
    'TrainResult',
    'train',
    'learning_rate_at',
    'weighted_cross_entropy',
    'WeightedCrossEntropy',
    'measure_peak_memory',
]
