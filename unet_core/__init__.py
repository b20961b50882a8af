"""unet_core: an executable companion to Ronneberger, Fischer & Brox (2015), *U-Net*.

One module per concept of the paper; everything public is re-exported here.

========================  =====================================================
module                    paper
========================  =====================================================
``network``               Fig. 1, Sec. 2: the network, He initialisation
``models``                FusionNet (Quan et al. 2016) beside it; networks by name
``sizes``                 Fig. 1: valid input sizes, output sizes, FLOPs
``mirror``                Fig. 2: mirror extrapolation, tiles on the pooling grid
``tiling``                Fig. 2: overlap-tile prediction (``predict_tiled``)
``memory``                activation memory per tile: estimated from the network, measured
``loss``                  Eq. 1: pixel-wise softmax + weighted cross-entropy
``train``                 Sec. 3: SGD, momentum 0.99, one large tile per batch
``checkpoint``            atomic checkpoints, loaded with ``weights_only=True``
``weight_map``            Eq. 2, Fig. 3: separation-border weight map
``elastic``               Sec. 3.1: elastic deformation on a coarse grid
``elastic_torch``         Sec. 3.1: the same deformation, batched with grid_sample
``augment_ops``           Sec. 3.1: shift, rotation, flips, gray values
``augment``               Sec. 3.1: one resampling for all of them, training tiles
``metrics``               Table 1: pixel error, Rand error, V_rand, V_info
``seg``                   Table 2: the Cell Tracking Challenge SEG measure (IoU)
``warping``               Table 1: warping error (simple points, Jain et al. 2010)
``synthetic``             synthetic stand-ins for tests and smoke runs
``data``                  readers of the converted datasets, torch Dataset
``recipes``               named training recipes per dataset and scale
``reproduce``             run a recipe: train, predict held-out data, score
``pretrained``            the published, sha256-verified networks of the recipes
========================  =====================================================

``viz`` and ``widgets`` (plots, static-site sliders, results records for the book) are
not imported here; use ``from unet_core import viz``.
"""
from __future__ import annotations

import importlib as _importlib

# Each concept module defines its public names in ``__all__``; they are all re-exported here.
# (Some modules share a name with their main function - ``weight_map``, ``train`` - so the
# modules are looked up by name below, not through the package attributes.)
_MODULES = (
    "network", "models", "sizes", "mirror", "tiling", "loss", "train", "checkpoint", "weight_map", "elastic",
    "elastic_torch", "augment_ops", "augment", "metrics", "seg", "warping", "synthetic", "data",
    "recipes", "reproduce", "pretrained", "datasets", "memory",
)

from .augment import *  # noqa: E402,F401,F403
from .data import *  # noqa: E402,F401,F403
from .datasets import *  # noqa: E402,F401,F403
from .elastic import *  # noqa: E402,F401,F403
from .elastic_torch import *  # noqa: E402,F401,F403
from .loss import *  # noqa: E402,F401,F403
from .memory import *  # noqa: E402,F401,F403
from .metrics import *  # noqa: E402,F401,F403
from .mirror import *  # noqa: E402,F401,F403
from .models import *  # noqa: E402,F401,F403
from .network import *  # noqa: E402,F401,F403
from .pretrained import *  # noqa: E402,F401,F403
from .recipes import *  # noqa: E402,F401,F403
from .reproduce import *  # noqa: E402,F401,F403
from .synthetic import *  # noqa: E402,F401,F403
from .tiling import *  # noqa: E402,F401,F403
from .train import *  # noqa: E402,F401,F403
from .warping import *  # noqa: E402,F401,F403
from .weight_map import *  # noqa: E402,F401,F403

__version__ = "0.1.0"

__all__ = sorted({name for mod in _MODULES for name in _importlib.import_module(f"{__name__}.{mod}").__all__})
