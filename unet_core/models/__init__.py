"""The networks: the paper's U-Net and its residual successor FusionNet, by name.

=========================  ====================================================
module                     what
=========================  ====================================================
``unet_core.network``      :class:`UNet` (Ronneberger et al. 2015, Fig. 1), He init
``fusionnet``              :class:`FusionNet` (Quan et al. 2016)
``fusionnet_sizes``        FusionNet's valid sizes, parameters, FLOPs, receptive field, memory
``blocks``                 building blocks shared by the networks
``registry``               :func:`build_model` by name, the :class:`SegmentationModel` protocol,
                           each network's arithmetic (``ModelSpec``: parameters, sizes, memory)
=========================  ====================================================

Both networks implement :class:`SegmentationModel` (``in_channels``, ``num_classes``, ``border``,
``stride``, ``config``, ``output_size``, ``input_size_for_output``; FusionNet also ``tile_margin``),
which is all that :func:`unet_core.predict_tiled`, :func:`unet_core.train`, the checkpoints and the
command line use. ``UNet`` stays in :mod:`unet_core.network`; it is re-exported here.
"""
from __future__ import annotations

from ..network import UNet  # noqa: F401
from .fusionnet import COPIED_VARIANT, PAPER_TILE, FusionNet  # noqa: F401
from .fusionnet_sizes import (ReceptiveField, fusionnet_flops, fusionnet_parameter_count,  # noqa: F401
                              fusionnet_receptive_field)
from .registry import MODEL_NAMES, SegmentationModel, build_model, model_name  # noqa: F401

__all__ = ["FusionNet", "COPIED_VARIANT", "fusionnet_parameter_count", "fusionnet_flops", "fusionnet_receptive_field",
           "MODEL_NAMES", "build_model"]
