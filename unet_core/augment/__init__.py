"""Sec. 3.1: data augmentation. Elastic deformation on a coarse grid (``elastic``, batched in
``elastic_torch``), shifts / rotations / flips / gray values in one resampling (``ops``), and random
training tiles (``tiles``).
"""

from __future__ import annotations

from .elastic import apply_elastic_field, random_elastic_field, upsample_grid_displacements
from .elastic_torch import apply_elastic_field_torch, random_elastic_field_torch
from .ops import AugmentConfig, AugmentParams, apply_augmentation, augmentation_coordinates, draw_augmentation
from .tiles import sample_training_tile

__all__ = [
    'random_elastic_field',
    'upsample_grid_displacements',
    'apply_elastic_field',
    'apply_elastic_field_torch',
    'random_elastic_field_torch',
    'AugmentConfig',
    'AugmentParams',
    'draw_augmentation',
    'augmentation_coordinates',
    'apply_augmentation',
    'sample_training_tile',
]
