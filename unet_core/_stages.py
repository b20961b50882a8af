"""The dependency rule of the package: which stage may import which.

The package is arranged by pipeline stage (one sub-package each). A stage imports only the
stages it lists here, always lower in the pipeline, so the import graph has no cycles and each
stage can be read, tested and replaced without the ones above it:

==============  =====================================================  ====================================
stage           may import                                             why
==============  =====================================================  ====================================
``utils``       (nothing of the package)                               shared argument checks, files, device
``models``      utils                                                  Fig. 1: networks and their arithmetic
``metrics``     utils                                                  Tables 1-2: measures on arrays only
``inference``   utils, models                                          Fig. 2: running a network on tiles
``augment``     utils, inference                                       Sec. 3.1; elastic resampling mirrors
                                                                       at the border as Fig. 2 does
                                                                       (``inference.mirror.reflect_index``)
``data``        utils, augment                                         datasets, labels, Eq. 2, tiles
``training``    utils, models, inference, data                         Sec. 3, Eq. 1: loss, loop, checkpoints
``recipes``     every stage above                                      Tables 1-2 end to end
``book``        anything                                               the book's helpers (not imported by
                                                                       ``import unet_core``)
``cli``         anything                                               ``python -m unet_core``
==============  =====================================================  ====================================

Further rules, enforced with this one by ``tests/test_architecture.py`` (which reads the imports of
every module):

* no private name (``_x``) is imported from another module;
* imports sit at the top of modules, except those of :data:`LAZY_IMPORTS` (optional dependencies,
  or slow to import and needed by one function only);
* a module and a public name of its package never share a name (``import unet_core.training.loop``
  is a module, ``unet_core.train`` the function).
"""

from __future__ import annotations

__all__: list[str] = []

STAGES: dict[str, tuple[str, ...]] = {
    "utils": (),
    "models": ("utils",),
    "metrics": ("utils",),
    "inference": ("utils", "models"),
    "augment": ("utils", "inference"),
    "data": ("utils", "augment"),
    "training": ("utils", "models", "inference", "data"),
    "recipes": ("utils", "models", "metrics", "inference", "augment", "data", "training"),
    "book": ("utils", "models", "metrics", "inference", "augment", "data", "training", "recipes"),
    "cli": ("utils", "models", "metrics", "inference", "augment", "data", "training", "recipes"),
}

# Third-party modules that may be imported inside a function, and why.
LAZY_IMPORTS: dict[str, str] = {
    "matplotlib": "optional (the book's figures); not a dependency of the package",
    "IPython": "optional (notebook display in the book's helpers)",
    "ipywidgets": "optional (the book's sliders)",
    "psutil": "optional (a better estimate of available memory where installed)",
    "resource": "Unix only (the process's peak memory); Windows has none",
    "tqdm": "tqdm.auto imports the notebook front end when present: paid only when a progress bar is shown",
}
