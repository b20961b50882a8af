"""Fig. 1: the networks, by name. The paper's U-Net (``unet``, ``unet_sizes``: valid sizes, FLOPs,
activation memory), FusionNet (Quan et al. 2016; ``fusionnet``, ``fusionnet_sizes``), the blocks they
share (``blocks``), and the registry (``registry``) that answers each network's arithmetic:
parameters, FLOPs, receptive field / tile margin, activation bytes (``memory``).
"""

from __future__ import annotations

from .fusionnet import COPIED_VARIANT, PAPER_TILE, FusionNet
from .fusionnet_sizes import ReceptiveField, fusionnet_flops, fusionnet_parameter_count, fusionnet_receptive_field
from .memory import estimate_memory
from .registry import MODEL_NAMES, SegmentationModel, build_model, model_name
from .unet import UNet, center_crop, count_conv_layers, count_parameters, he_init_, layer_table
from .unet_sizes import (
    PADDINGS,
    input_size_for_output,
    is_valid_input_size,
    nearest_valid_input_sizes,
    unet_flops,
    unet_output_size,
    valid_input_sizes,
)

__all__ = [
    'FusionNet',
    'COPIED_VARIANT',
    'PAPER_TILE',
    'fusionnet_parameter_count',
    'fusionnet_flops',
    'fusionnet_receptive_field',
    'ReceptiveField',
    'estimate_memory',
    'MODEL_NAMES',
    'SegmentationModel',
    'build_model',
    'model_name',
    'UNet',
    'center_crop',
    'he_init_',
    'count_conv_layers',
    'count_parameters',
    'layer_table',
    'PADDINGS',
    'unet_output_size',
    'is_valid_input_size',
    'valid_input_sizes',
    'nearest_valid_input_sizes',
    'input_size_for_output',
    'unet_flops',
]
