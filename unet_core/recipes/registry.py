"""Training recipes per dataset and scale: everything a reproduction run depends on, in one place.

The paper fixes the network (64 channels, depth 5, 572 px tiles), the optimiser (SGD, momentum
0.99, one tile per step), Eq. 2 (``w0 = 10``, ``sigma = 5`` px, class-frequency balancing ``w_c``)
and the elastic deformation; it gives neither the learning rate nor the number of steps, and it
trained for 10 GPU hours. On a 2-core CPU in 30 minutes that recipe does not converge (the loss
barely moves, PhC-U373 collapses to "no cell"; see book chapters 06 and 07), so each ``cpu``
recipe changes what the budget forces and says so: a 16-channel network, 412 px tiles, Adam with
warm-up and cosine decay, gradient clipping, and no class-balance term (the border term of Eq. 2
is kept). The paper's own recipe stays available as ``"paper"`` (and per dataset as
``"<dataset>-paper"``) and is always trained beside it at the same budget.

A recipe is data (a frozen dataclass); :func:`get_recipe` looks one up by name, :func:`ablations`
derives the one-change-per-row variants of chapters 06 and 07, and :mod:`unet_core.recipes`
runs one (train, predict the held-out data at full resolution, score).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass

from ..augment.ops import AugmentConfig
from ..data.datasets import DATASETS as DATASET_SPECS
from ..data.datasets import dataset_names
from ..models.registry import MODEL_NAMES, build_model, model_spec
from ..training import TrainConfig
from ..utils.validation import check_int, fmt

__all__ = ['Recipe', 'RECIPES', 'get_recipe', 'recipe_names', 'ablations', 'seeded']


DATASETS = dataset_names()  # declared in unet_core.data.datasets


class _Options(Mapping):
    """A read-only, hashable mapping of option names to plain values (``Recipe.model_options`` and
    ``Recipe.train_options``), so that a Recipe stays frozen and hashable; ``dict(options)`` is a plain dict.
    """

    __slots__ = ("_items",)

    def __init__(self, items=()) -> None:
        self._items = tuple(sorted(dict(items).items()))

    def __getitem__(self, key):
        return dict(self._items)[key]

    def __iter__(self):
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other) -> bool:
        return isinstance(other, Mapping) and dict(self._items) == dict(other.items())

    def __repr__(self) -> str:
        return repr(dict(self._items))


def _plain(value):
    """``value`` with lists made tuples if it is a str, number, bool, None or a list/tuple of them, else None."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return tuple(items) if all(i is not None or v is None for i, v in zip(items, value)) else None
    return None


def _options(value, field: str, example: str) -> _Options:
    """``value`` (a mapping of option names to plain values) as an :class:`_Options`; TypeError otherwise."""
    if not isinstance(value, Mapping):
        raise TypeError(
            f"Recipe.{field} must be a mapping of option names to values, e.g. {example}, got "
            f"{fmt(value)}; pass {{}} for none"
        )
    for key, v in value.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"Recipe.{field} must have option names (str) as keys, got {fmt(key)}; e.g. {example}")
        if _plain(v) is None and v is not None:
            raise TypeError(
                f"Recipe.{field}[{key!r}] must be a plain value (str, number, bool, None or a tuple of "
                f"them) so that the recipe can be written to JSON and hashed, got {fmt(v)}"
            )
    return _Options({k: _plain(v) for k, v in value.items()})


# Recipe fields that build the network (Recipe.model_kwargs) and the TrainConfig fields that a recipe sets by
# its own name (Recipe.train_config): model_options and train_options may not set them a second time.
_MODEL_FIELDS = ("base_channels", "depth", "dropout")
_TRAIN_FIELDS = (
    "optimizer",
    "learning_rate",
    "momentum",
    "schedule",
    "warmup_steps",
    "grad_clip",
    "iterations",
    "batch_size",
)
# TrainConfig fields that train_recipe sets for the run (the machine's), not the recipe
_RUN_FIELDS = {
    "device": "train_recipe(..., device=...)",
    "checkpoint_every": "train_recipe (every 100 steps)",
    "num_workers": "train_recipe (from the machine's CPUs)",
}


def _refuse_own_fields(options, own_fields, what: str) -> None:
    """ValueError when ``Recipe.<what>`` sets a name that the recipe sets by its own field."""
    own = sorted(set(options) & set(own_fields))
    if own:
        raise ValueError(
            f"Recipe.{what} sets {', '.join(map(repr, own))}, which the recipe sets by "
            f"its own field; set Recipe.{own[0]}={options[own[0]]!r} instead"
        )


@dataclass(frozen=True)
class Recipe:
    """One named training and evaluation recipe (see the module docstring).

    Every field is validated on creation; ``dataclasses.replace(recipe, ...)`` makes a variant.
    ``model_options`` carries the network's other keyword options (e.g. FusionNet's ``skip``) and
    ``train_options`` any other ``TrainConfig`` field; both are stored read-only (``to_dict`` gives
    plain dicts) and enter the checkpoint key (:func:`unet_core.recipes.key.training_key`).

    Examples
    --------
    >>> r = get_recipe("isbi2012-fusionnet-smoke", model_options={"skip": "mean"},
    ...                train_options={"weight_decay": 1e-4})
    >>> r.build_model().config["skip"], r.train_config().weight_decay
    ('mean', 0.0001)
    """

    name: str
    dataset: str  # a dataset of unet_core.data.datasets: "isbi2012" | "phc-u373" | "dic-hela"
    scale: str  # "smoke" | "cpu" | "full"
    # --- data: which frames train (frame-id patterns, see unet_core.data.datasets; () = the dataset's declared
    # split) and which truth kind ("best": gold truth per part of the split where it exists, else silver)
    train_frames: tuple[str, ...] = ()
    truth: str = "best"
    # --- network and input
    model: str = "unet"  # "unet" (the paper) or "fusionnet" (Quan et al. 2016, the book's FusionNet appendix)
    base_channels: int = 64  # paper: 64
    depth: int = 5  # paper: 5 levels (4 poolings)
    tile: int = 572  # input tile side; paper: 572 -> 388
    downsample: int = 1  # train and predict at 1/downsample of the resolution; always scored at full resolution
    dropout: float = 0.5  # the authors' release: after the last two contracting levels
    # any other keyword option of the network (build_model(model, ...)), e.g. {"skip": "mean"} for FusionNet
    model_options: Mapping = _Options()
    # --- optimisation (TrainConfig)
    optimizer: str = "sgd"  # paper: Caffe SGD
    learning_rate: float = 0.001
    momentum: float = 0.99  # paper, Sec. 3
    schedule: str = "constant"
    warmup_steps: int = 0
    grad_clip: float = 0.0
    iterations: int = 2000
    # tiles per step over all processes (torchrun splits it evenly over the ranks); paper: 1
    batch_size: int = 1
    # any other TrainConfig field by name, e.g. {"weight_decay": 1e-4, "min_lr_factor": 0.01}
    train_options: Mapping = _Options()
    # --- Eq. 2
    w0: float = 10.0  # paper
    sigma: float = 5.0  # paper, px (at the resolution the network sees)
    class_weights: str | None = "balanced"  # paper: w_c balances the class frequencies; None: 1
    # CTC only, beyond the paper: remove the pixels of each cell within `separation_gap` px of another
    # cell before the labels and Eq. 2 weights are made, so that touching cells are separated by a gap
    # of about 2 * gap + 1 px instead of 1-2 px; predicted instances are grown back by `gap` px
    # (skimage's expand_labels). 0: the paper's labels.
    separation_gap: int = 0
    # CTC only: px by which predicted instances are grown back; None: separation_gap (see grow_px)
    grow: int | None = None
    # --- augmentation (Sec. 3.1): "paper" = flips, rotation, gray values + elastic (3x3 grid, 10 px);
    # "no-elastic" = the same without the elastic deformation; "off" = none
    augment: str = "paper"
    # --- evaluation
    tta: bool = True  # average the 8 flips / 90-degree rotations (the paper: "7 rotated versions")
    # CTC only: how instances are cut from p(cell): "components" (4-connected components of p > t)
    # or "watershed" (seeds = components of p > seed_threshold, flooded over -p inside p > t)
    instances: str = "components"
    threshold: float | str = "train"  # CTC: a number, or "train" = best SEG on the training frames
    seed_threshold: float = 0.9
    notes: str = ""

    def __post_init__(self) -> None:
        if self.model not in MODEL_NAMES:
            raise ValueError(f"Recipe.model must be one of {MODEL_NAMES}, got {fmt(self.model)}")
        if self.dataset not in DATASETS:
            raise ValueError(f"Recipe.dataset must be one of {DATASETS}, got {fmt(self.dataset)}")
        spec = DATASET_SPECS[self.dataset]
        if isinstance(self.train_frames, list):  # read back from JSON or a checkpoint
            object.__setattr__(self, "train_frames", tuple(self.train_frames))
        if self.truth != "best" and self.truth not in spec.truth_kinds:
            raise ValueError(
                f"Recipe.truth must be 'best' or one of {spec.truth_kinds} for {self.dataset}, got {fmt(self.truth)}"
            )
        if not isinstance(self.train_frames, tuple) or not all(isinstance(p, str) and p for p in self.train_frames):
            raise ValueError(
                "Recipe.train_frames must be a tuple of frame ids or patterns such as ('01/*',) (empty: "
                f"the dataset's declared split), got {fmt(self.train_frames)}"
            )
        if self.scale not in ("smoke", "cpu", "full"):
            raise ValueError(f"Recipe.scale must be 'smoke', 'cpu' or 'full', got {fmt(self.scale)}")
        if self.augment not in ("paper", "no-elastic", "off"):
            raise ValueError(f"Recipe.augment must be 'paper', 'no-elastic' or 'off', got {fmt(self.augment)}")
        if self.instances not in ("components", "watershed"):
            raise ValueError(f"Recipe.instances must be 'components' or 'watershed', got {fmt(self.instances)}")
        if self.class_weights not in ("balanced", None):
            raise ValueError(f"Recipe.class_weights must be 'balanced' or None, got {fmt(self.class_weights)}")
        if not (self.threshold == "train" or (isinstance(self.threshold, float) and 0 < self.threshold < 1)):
            raise ValueError(f"Recipe.threshold must be 'train' or a float in (0, 1), got {fmt(self.threshold)}")
        for name in (
            "base_channels",
            "depth",
            "tile",
            "downsample",
            "iterations",
            "batch_size",
            "warmup_steps",
            "separation_gap",
            *(("grow",) if self.grow is not None else ()),
        ):
            value = getattr(self, name)
            low = 0 if name in ("warmup_steps", "separation_gap", "grow") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"Recipe.{name} must be an int >= {low}, got {fmt(value)}")
        self._check_options()
        self.train_config()  # validates the optimiser fields (TrainConfig raises with the fix)

    def _check_options(self) -> None:
        """Normalise ``model_options`` / ``train_options`` and refuse names the network / TrainConfig lack."""
        model_options = _options(self.model_options, "model_options", "{'skip': 'mean'}")
        train_options = _options(self.train_options, "train_options", "{'weight_decay': 0.0001}")
        object.__setattr__(self, "model_options", model_options)
        object.__setattr__(self, "train_options", train_options)
        if model_options:
            self._check_model_options(model_options)
        if train_options:
            self._check_train_options(train_options)

    def _check_model_options(self, model_options) -> None:
        spec = model_spec(self.model, "Recipe.model")
        accepted = [p for p in inspect.signature(spec.cls).parameters if p not in _MODEL_FIELDS]
        _refuse_own_fields(model_options, _MODEL_FIELDS, "model_options")
        unknown = sorted(set(model_options) - set(accepted))
        if unknown:
            raise ValueError(
                f"Recipe.model_options has {', '.join(map(repr, unknown))}, which "
                f"{spec.cls.__name__} (model={self.model!r}) does not take; use one of "
                f"{', '.join(accepted)}"
            )
        try:  # the values: the network's own checks, on a 1-channel copy (cheap to build)
            build_model(self.model, **{**self.model_kwargs(), "base_channels": 1})
        except (TypeError, ValueError) as e:
            raise type(e)(f"Recipe.model_options={dict(model_options)!r} is refused by {spec.cls.__name__}: {e}") from e

    def _check_train_options(self, train_options) -> None:
        fields = [f.name for f in dataclasses.fields(TrainConfig)]
        _refuse_own_fields(train_options, _TRAIN_FIELDS, "train_options")
        run = sorted(set(train_options) & set(_RUN_FIELDS))
        if run:
            raise ValueError(
                f"Recipe.train_options sets {', '.join(map(repr, run))}, which belongs to the run, "
                f"not the recipe: it is set by {_RUN_FIELDS[run[0]]}; remove it"
            )
        unknown = sorted(set(train_options) - set(fields))
        if unknown:
            raise ValueError(
                f"Recipe.train_options has {', '.join(map(repr, unknown))}, which is not a "
                f"TrainConfig field a recipe may set here; use one of "
                f"{', '.join(f for f in fields if f not in _TRAIN_FIELDS and f not in _RUN_FIELDS)}"
            )

    @property
    def grow_px(self) -> int:
        """Pixels by which predicted instances are grown back (``grow``, else ``separation_gap``)."""
        return self.separation_gap if self.grow is None else self.grow

    def model_kwargs(self) -> dict:
        """Keyword arguments of the recipe's network (``UNet`` or ``FusionNet``), ``model_options`` included."""
        return {"base_channels": self.base_channels, "depth": self.depth, "dropout": self.dropout, **self.model_options}

    def build_model(self):
        """A fresh, He-initialised network of this recipe (``unet_core.models.build_model``)."""
        return build_model(self.model, **self.model_kwargs())

    def train_config(self, **overrides):
        """The ``TrainConfig`` of this recipe, ``train_options`` included (``overrides``: device,
        checkpoint_every, ...; they win)."""
        kw = dict(
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            schedule=self.schedule,
            warmup_steps=self.warmup_steps,
            grad_clip=self.grad_clip,
            iterations=self.iterations,
            batch_size=self.batch_size,
            seed=0,
        )
        kw.update(self.train_options)
        kw.update(overrides)
        return TrainConfig(**kw)

    def augment_config(self):
        """The ``AugmentConfig`` of ``augment``."""
        if self.augment == "off":
            return AugmentConfig.off()
        return AugmentConfig(p_elastic=0.0) if self.augment == "no-elastic" else AugmentConfig()

    def to_dict(self) -> dict:
        """Plain-value dict (for results JSON and checkpoints); the options are plain dicts."""
        d = dataclasses.asdict(self)
        d["model_options"], d["train_options"] = dict(self.model_options), dict(self.train_options)
        return d


# The converged CPU recipe, shared by the three datasets. Adam 1e-3 (warm-up 20, cosine to 0) with
# gradient clipping 1.0 converged in every lead (../shared/notes, issue 10); SGD 0.99 did not.
# 412 px tiles (228 px output) at 16 channels: 0.34 s per step on 2 cores, 4500 steps ~ 26 min.
_CPU = dict(
    scale="cpu",
    base_channels=16,
    depth=5,
    tile=412,
    optimizer="adam",
    learning_rate=1e-3,
    schedule="cosine",
    warmup_steps=20,
    grad_clip=1.0,
    iterations=4500,
    class_weights=None,
)


LESSON_STEPS = 300  # the *-lesson recipes: a workshop exercise (book/instructor.md)
_LESSON = "a workshop exercise: the cpu recipe at 300 steps (a visible result, not a reproduction)"


# The paper's recipe at the same CPU budget and network size (SGD momentum 0.99, balanced w_c).
_CPU_PAPER = dict(
    scale="cpu",
    base_channels=16,
    depth=5,
    tile=412,
    optimizer="sgd",
    learning_rate=1e-3,
    momentum=0.99,
    iterations=4500,
    class_weights="balanced",
)


# The paper's network on a GPU. A global batch of 8 tiles (40,000 tiles in 5,000 steps) so that
# `torchrun --nproc_per_node=N` can spread a step over N = 1, 2, 4 or 8 GPUs: about 0.9 GB of fp32
# activations per 572 px training tile (measured on the CPU), so 8 tiles fit a 16 GB GPU.
_FULL = dict(
    scale="full",
    base_channels=64,
    depth=5,
    tile=572,
    optimizer="adam",
    learning_rate=1e-4,
    schedule="cosine",
    warmup_steps=25,
    grad_clip=1.0,
    iterations=5000,
    batch_size=8,
    class_weights=None,
)


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe(
            "paper",
            "isbi2012",
            "full",
            iterations=40000,
            notes="the paper's settings: 64 channels, 572 px, SGD 0.99, balanced w_c, w0=10, sigma=5 (GPU)",
        ),
        Recipe("isbi2012-cpu", "isbi2012", **_CPU),
        Recipe("phc-u373-cpu", "phc-u373", **_CPU),
        # grow 0: of watershed or components, grown back by 0 or 2 px, the training frames choose the watershed
        # without growing (book/results/recipes/dic-hela-cpu-postprocessing.json, chapter 07)
        Recipe("dic-hela-cpu", "dic-hela", **{**_CPU, "instances": "watershed", "separation_gap": 2, "grow": 0}),
        # Workshop exercises: the cpu recipes at 300 steps, a visible result in 1.5 to 3 minutes on 2 CPU cores
        # (book/instructor.md); the same networks, schedule and augmentation, shortened.
        Recipe("isbi2012-lesson", "isbi2012", **{**_CPU, "iterations": LESSON_STEPS}, notes=_LESSON),
        Recipe("phc-u373-lesson", "phc-u373", **{**_CPU, "iterations": LESSON_STEPS}, notes=_LESSON),
        Recipe("isbi2012-paper", "isbi2012", **_CPU_PAPER),
        Recipe("phc-u373-paper", "phc-u373", **_CPU_PAPER),
        Recipe("dic-hela-paper", "dic-hela", **_CPU_PAPER),
        Recipe("isbi2012-full", "isbi2012", **_FULL),
        Recipe("phc-u373-full", "phc-u373", **_FULL),
        Recipe("dic-hela-full", "dic-hela", **{**_FULL, "instances": "watershed", "separation_gap": 2}),
        # FusionNet (Quan et al. 2016) on the cpu budget of isbi2012-cpu (the book's FusionNet appendix): same optimiser,
        # schedule, steps, seed, Eq. 2 weights and augmentation; padded convolutions, so the tile is the
        # output: 256 px (65,536 supervised pixels per step, the U-Net's 412 -> 228 tile has 51,984);
        # dropout 0.25 as FusionNet's paper.
        Recipe(
            "isbi2012-fusionnet-cpu",
            "isbi2012",
            **{**_CPU, "model": "fusionnet", "tile": 256, "dropout": 0.25},
            notes="FusionNet at the isbi2012-cpu budget (the FusionNet appendix)",
        ),
        Recipe(
            "isbi2012-fusionnet-full",
            "isbi2012",
            **{**_FULL, "model": "fusionnet", "tile": 640, "dropout": 0.25},
            notes="FusionNet at the isbi2012-full budget (the FusionNet appendix; GPU)",
        ),
        Recipe(
            "isbi2012-fusionnet-smoke",
            "isbi2012",
            "smoke",
            model="fusionnet",
            base_channels=4,
            depth=3,
            tile=96,
            optimizer="adam",
            learning_rate=3e-3,
            schedule="cosine",
            warmup_steps=5,
            grad_clip=1.0,
            iterations=30,
            class_weights=None,
            tta=False,
            dropout=0.25,
        ),
        # smoke: seconds on a CPU, to check the pipeline (CI, Colab's first "Run all"); never a result
        *[
            Recipe(
                f"{ds}-smoke",
                ds,
                "smoke",
                base_channels=4,
                depth=3,
                tile=DATASET_SPECS[ds].smoke_tile,
                optimizer="adam",
                learning_rate=3e-3,
                schedule="cosine",
                warmup_steps=5,
                grad_clip=1.0,
                iterations=30,
                class_weights=None,
                tta=False,
                threshold=0.5,
            )
            for ds in DATASETS
        ],
    ]
}


def recipe_names() -> list[str]:
    """Names of the registered recipes, sorted."""
    return sorted(RECIPES)


def get_recipe(name: str | Recipe, **overrides) -> Recipe:
    """The recipe called ``name`` (with ``overrides`` applied, e.g. ``iterations=600``).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones) or a bad override.

    Examples
    --------
    >>> get_recipe("isbi2012-cpu").optimizer
    'adam'
    >>> get_recipe("isbi2012-cpu", iterations=10).iterations
    10
    """
    recipe = name if isinstance(name, Recipe) else RECIPES.get(name)
    if recipe is None:
        raise ValueError(f"recipe={name!r} is unknown; known recipes: {', '.join(recipe_names())}")
    unknown = set(overrides) - {f.name for f in dataclasses.fields(Recipe)}
    if unknown:
        raise ValueError(
            f"unknown Recipe field(s) {sorted(unknown)}; fields: "
            f"{', '.join(f.name for f in dataclasses.fields(Recipe))}"
        )
    return dataclasses.replace(recipe, **overrides) if overrides else recipe


def seeded(recipe: str | Recipe, seed: int) -> Recipe:
    """The recipe trained from another seed: its initial weights, training tiles and dropout masks.

    Seed 0 is the recipe itself (the run whose network is published); another seed ``k`` gives the
    recipe ``<name>@seed<k>`` with ``train_options["seed"] = k``, which has its own checkpoint key, so
    runs of several seeds never share a checkpoint and give the spread of a result over seeds.

    Parameters
    ----------
    recipe : str or Recipe
        A registered name or a Recipe.
    seed : int
        >= 0.

    Returns
    -------
    Recipe

    Raises
    ------
    TypeError, ValueError
        For an unknown recipe, or a seed that is not an integer >= 0.

    Examples
    --------
    >>> r = seeded("isbi2012-cpu", 2)
    >>> r.name, r.train_config().seed, seeded("isbi2012-cpu", 0) == get_recipe("isbi2012-cpu")
    ('isbi2012-cpu@seed2', 2, True)
    """
    recipe = get_recipe(recipe)
    seed = check_int(seed, "seed", 0, fix="seed 0 is the recipe's own run; 1, 2, ... its repetitions")
    if seed == 0:
        return recipe
    options = {**dict(recipe.train_options), "seed": seed}
    return dataclasses.replace(recipe, name=f"{recipe.name}@seed{seed}", train_options=options)


def ablations(recipe: str | Recipe, iterations: int | None = None) -> dict[str, Recipe]:
    """One-change-per-row variants of a converged recipe (chapters 06 and 07).

    Parameters
    ----------
    recipe : name or Recipe
    iterations : int or None
        The shorter budget of the table (None keeps the recipe's).

    Returns
    -------
    dict
        ``{"recipe": r, "paper recipe": ..., "paper SGD": ..., "w0 = 0": ..., "class balance on"/"off": ...,
        "no elastic deformation": ..., "no TTA": ...}``, each differing from ``r`` in one respect
        ("paper SGD": the optimiser, schedule and clipping of the paper's recipe), except
        "paper recipe": the paper's SGD *and* its class balance (the ``<dataset>-paper`` recipe at
        this budget).
    """
    r = get_recipe(recipe)
    if iterations is not None:
        iterations = check_int(iterations, "iterations", 1, fix="the ablation budget is a number of steps, e.g. 500")
        r = dataclasses.replace(r, iterations=iterations, name=f"{r.name}@{iterations}")
    balance = "class balance on" if r.class_weights is None else "class balance off"
    sgd = dict(optimizer="sgd", momentum=0.99, learning_rate=1e-3, schedule="constant", warmup_steps=0, grad_clip=0.0)
    return {
        "recipe": r,
        "paper recipe": dataclasses.replace(r, **sgd, class_weights="balanced"),
        "paper SGD": dataclasses.replace(r, **sgd),
        "w0 = 0": dataclasses.replace(r, w0=0.0),
        balance: dataclasses.replace(r, class_weights="balanced" if r.class_weights is None else None),
        "no elastic deformation": dataclasses.replace(r, augment="no-elastic"),
        "no TTA": dataclasses.replace(r, tta=False),
    }
