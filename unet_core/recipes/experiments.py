"""Recipes for testing the paper's claims: training on a few images, and a learning-rate sweep.

Each function derives :class:`~unet_core.recipes.registry.Recipe` variants of a registered recipe that
differ from it in one stated respect, named so that their recorded runs sort together
(``book/scripts/run_recipes.py`` records them; the chapters read them).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..data.datasets import dataset_spec
from ..utils.validation import check_bool, check_int, check_real, fmt
from .registry import Recipe, get_recipe, seeded

__all__ = ["training_frames", "few_images", "learning_rates"]


def training_frames(recipe: str | Recipe) -> tuple[str, ...]:
    """The recipe's training frame ids when they are listed (its ``train_frames`` or its dataset's declared split).

    Raises
    ------
    ValueError
        If the split is a pattern (``'01/*'``) that only a data folder resolves: pass explicit ids in
        ``Recipe.train_frames``.

    Examples
    --------
    >>> len(training_frames("phc-u373-cpu")), training_frames("phc-u373-cpu")[0]
    (14, '02/010')
    """
    r = get_recipe(recipe)
    frames = r.train_frames or dataset_spec(r.dataset).split.train
    patterns = [f for f in frames if any(c in f for c in "*?[")]
    if patterns:
        raise ValueError(
            f"recipe {r.name!r} trains on frame patterns {patterns}, which only a data folder resolves; give "
            "explicit frame ids in Recipe.train_frames (e.g. train_frames=('01/000', '01/001'))"
        )
    return tuple(frames)


def few_images(
    recipe: str | Recipe, n: int, seed: int = 0, iterations: int | None = None, elastic: bool = True
) -> Recipe:
    """The recipe trained on ``n`` of its training frames, drawn by ``seed``, at a fixed budget.

    The frames are the first ``n`` of a permutation of the training frames drawn from ``seed``, so for
    one seed the sets are nested (the 2 frames contain the 1, the 4 the 2, ...); the same seed also
    draws the initial weights and tiles (:func:`~unet_core.recipes.registry.seeded`). ``elastic=False``
    trains the same frames without the elastic deformation (flips, rotations and gray values kept).
    With ``n`` = all training frames the frames are the recipe's own.

    Parameters
    ----------
    recipe : str or Recipe
    n : int
        1 <= n <= the number of training frames.
    seed : int
        >= 0.
    iterations : int or None
        The budget (None: the recipe's).
    elastic : bool

    Returns
    -------
    Recipe
        Named ``<name>@<iterations>-n<n>[-no_elastic][@seed<k>]``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, or a recipe whose training frames are patterns (:func:`training_frames`).

    Notes
    -----
    Ronneberger et al. (2015), Sec. 3.1: "Especially random elastic deformations of the training
    samples seem to be the key concept to train a segmentation network with very few annotated images."

    Examples
    --------
    >>> r = few_images("phc-u373-cpu", 2, seed=1, iterations=1000, elastic=False)
    >>> r.name, len(r.train_frames), r.augment, r.iterations
    ('phc-u373-cpu@1000-n2-no_elastic@seed1', 2, 'no-elastic', 1000)
    >>> set(few_images("phc-u373-cpu", 1, seed=1).train_frames) <= set(r.train_frames)
    True
    """
    r = get_recipe(recipe)
    frames = training_frames(r)
    n = check_int(n, "n", 1, fix=f"the number of training frames, 1 to {len(frames)}")
    if n > len(frames):
        raise ValueError(f"n must be at most the {len(frames)} training frames of {r.name!r}, got {n}")
    seed = check_int(seed, "seed", 0)
    elastic = check_bool(elastic, "elastic")
    iterations = r.iterations if iterations is None else check_int(iterations, "iterations", 1)
    order = np.random.default_rng(seed).permutation(len(frames))
    chosen = tuple(sorted(frames[i] for i in order[:n])) if n < len(frames) else r.train_frames
    name = f"{r.name}@{iterations}-n{n}" + ("" if elastic else "-no_elastic")
    augment = r.augment if elastic else "no-elastic"
    variant = dataclasses.replace(r, name=name, train_frames=chosen, iterations=iterations, augment=augment)
    return seeded(variant, seed)


def learning_rates(recipe: str | Recipe, rates, iterations: int | None = None) -> dict[float, Recipe]:
    """The recipe at each learning rate of ``rates`` (one change), named ``<name>@<iterations>-lr<rate>``.

    Examples
    --------
    >>> sorted(learning_rates("isbi2012-paper", [1e-3, 3e-3]).items())[1][1].name
    'isbi2012-paper@4500-lr0.003'
    """
    r = get_recipe(recipe)
    iterations = r.iterations if iterations is None else check_int(iterations, "iterations", 1)
    if isinstance(rates, (str, bytes)) or not hasattr(rates, "__iter__"):
        raise TypeError(f"rates must be a sequence of learning rates, e.g. [1e-3, 3e-3], got {fmt(rates)}")
    out = {}
    for rate in rates:
        rate = check_real(rate, "learning rate", low=0, low_open=True)
        out[rate] = dataclasses.replace(
            r, name=f"{r.name}@{iterations}-lr{rate:g}", learning_rate=rate, iterations=iterations
        )
    return out
