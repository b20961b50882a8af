"""The data: each dataset declared once (``datasets``), where it lives (``paths``), readers of the
converted files (``readers``, ``isbi2012``, ``ctc``, ``frames``) and of your own annotated folders
(``folders``), labels and instances (``labels``), the loss weight map of Eq. 2 (``loss_weights``),
training tiles (``tiles``) and synthetic stand-ins (``synthetic``).
"""
from __future__ import annotations

from .ctc import CtcSample, load_ctc
from .datasets import (
    DATASETS,
    MEASURES,
    TRUTH_LABELS,
    DatasetSpec,
    HeldOutGroup,
    Split,
    SplitPlan,
    dataset_names,
    dataset_spec,
    resolve_split,
)
from .folders import FolderData, ImagePair, load_pairs, pair_files, split_names
from .frames import load_frames
from .isbi2012 import IsbiData, load_isbi2012
from .labels import cut_instances, instances_from_labels, separate_touching
from .loss_weights import foreground_with_borders, separation_border, weight_map, weight_map_brute_force
from .paths import default_data_dir
from .readers import annotated_frames
from .synthetic import synthetic_cells, synthetic_em
from .tiles import TrainingTiles, normalize_image

__all__ = ['FolderData', 'ImagePair', 'load_pairs', 'pair_files', 'split_names', 'CtcSample', 'load_ctc', 'Split', 'HeldOutGroup', 'DatasetSpec', 'DATASETS', 'dataset_spec', 'dataset_names', 'MEASURES', 'TRUTH_LABELS', 'resolve_split', 'SplitPlan', 'annotated_frames', 'load_frames', 'IsbiData', 'load_isbi2012', 'instances_from_labels', 'separate_touching', 'cut_instances', 'separation_border', 'foreground_with_borders', 'weight_map', 'weight_map_brute_force', 'default_data_dir', 'synthetic_em', 'synthetic_cells', 'normalize_image', 'TrainingTiles']
