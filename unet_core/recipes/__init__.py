"""Tables 1 and 2 end to end: named recipes (``registry``), their checkpoints (``key``), data
(``data``) and the held-out rule (``held_out``), running them (``run``), recipes under the check cap
(``capped``), the published networks (``pretrained``, files in ``weights/``) and snapshots of a run's
prediction while it learns (``snapshots``) and the variants that test the paper's claims
(``experiments``).
"""

from __future__ import annotations

from .capped import capped_data, capped_recipe, capped_tile
from .data import recipe_data
from .experiments import few_images, learning_rates, training_frames
from .folder import score_folder, train_folder
from .held_out import TrainedOnHeldOutError, check_held_out
from .key import recipe_checkpoint_path
from .pretrained import PRETRAINED_DIR, load_pretrained, pretrained_path, pretrained_registry, publish_checkpoint
from .registry import RECIPES, Recipe, ablations, get_recipe, recipe_names, seeded
from .run import evaluate_recipe, predict_recipe, run_recipe, score_recipe, train_recipe
from .snapshots import SnapshotRecorder, load_snapshots

__all__ = [
    'train_folder',
    'score_folder',
    'capped_tile',
    'capped_recipe',
    'capped_data',
    'recipe_data',
    'check_held_out',
    'TrainedOnHeldOutError',
    'recipe_checkpoint_path',
    'PRETRAINED_DIR',
    'pretrained_registry',
    'pretrained_path',
    'load_pretrained',
    'publish_checkpoint',
    'Recipe',
    'RECIPES',
    'get_recipe',
    'recipe_names',
    'ablations',
    'seeded',
    'train_recipe',
    'predict_recipe',
    'score_recipe',
    'run_recipe',
    'evaluate_recipe',
    'few_images',
    'learning_rates',
    'training_frames',
    'SnapshotRecorder',
    'load_snapshots',
]
