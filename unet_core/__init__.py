"""unet_core: an executable companion to Ronneberger, Fischer & Brox (2015), *U-Net*.

One module per concept of the paper; everything public is re-exported here.

========================  =====================================================
module                    paper
========================  =====================================================
``network``               Fig. 1, Sec. 2: the network and its size arithmetic
``tiling``                Fig. 2: overlap-tile prediction with mirror padding
``loss``                  Eq. 1: pixel-wise softmax + weighted cross-entropy
``train``                 Sec. 3: SGD, momentum 0.99, one large tile per batch
``weight_map``            Eq. 2, Fig. 3: separation-border weight map
``elastic``               Sec. 3.1: elastic deformation on a coarse grid
``elastic_torch``         Sec. 3.1: the same deformation, batched with grid_sample
``augment``               Sec. 3.1: shift, rotation, flips, gray values, tiles
``metrics``               Tables 1, 2: pixel/Rand error, V_rand, V_info, SEG
``warping``               Table 1: warping error (simple points, Jain et al. 2010)
``synthetic``             synthetic stand-ins for tests and smoke runs
``data``                  readers of the converted datasets, torch Dataset
========================  =====================================================
"""
from __future__ import annotations

from . import augment, data, elastic, elastic_torch, loss, metrics, network, synthetic, tiling, train, warping, weight_map
from .augment import *  # noqa: F401,F403
from .data import *  # noqa: F401,F403
from .elastic import *  # noqa: F401,F403
from .elastic_torch import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
from .network import *  # noqa: F401,F403
from .synthetic import *  # noqa: F401,F403
from .tiling import *  # noqa: F401,F403
from .train import *  # noqa: F401,F403
from .warping import *  # noqa: F401,F403
from .weight_map import *  # noqa: F401,F403

__version__ = "0.1.0"

__all__ = sorted(
    {
        *network.__all__,
        *tiling.__all__,
        *loss.__all__,
        *train.__all__,
        *weight_map.__all__,
        *elastic.__all__,
        *elastic_torch.__all__,
        *augment.__all__,
        *metrics.__all__,
        *warping.__all__,
        *synthetic.__all__,
        *data.__all__,
    }
)
