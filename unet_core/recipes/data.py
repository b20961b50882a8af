"""A recipe's data: training frames and held-out groups at full resolution."""

from __future__ import annotations

from .. import data
from ..data.datasets import dataset_spec, resolve_split, truth_label
from ..utils.validation import check_path
from .capped import capped_data, resolve_recipe
from .held_out import frame_span
from .registry import Recipe

__all__ = ['recipe_data']


def recipe_data(recipe: Recipe, data_dir=None) -> dict:
    """Training and held-out frames of the recipe's split, at full resolution.

    The split is the recipe's (``Recipe.train_frames``, else the dataset's declared split in
    :mod:`unet_core.data.datasets`) resolved against the frames this data folder holds, so the training
    frames are the same whatever else the folder has; the truth kind is chosen per part
    (``Recipe.truth``; "best": gold truth where the part has gold masks, else silver).

    Returns
    -------
    dict
        ``train_x, train_y`` (lists of (H, W) arrays; class labels for ISBI, instances for CTC), ``val_x,
        val_y`` (the primary held-out group), ``semantic`` (bool), ``truth`` (the primary group's truth
        kind), ``train_truth``, ``train_ids``, ``val_ids``, ``source`` (str), ``training_data`` (the record a
        checkpoint keeps: dataset, truth, train_frames) and ``groups``: one dict per held-out group with
        frames in this folder (``name, note, truth, ids, x, y``; the first is the primary group).

    Raises
    ------
    TypeError, ValueError
        If ``recipe`` is not a Recipe or known name, or ``data_dir`` not a path or None; ValueError also when
        no frame of the folder matches the recipe's training frames.
    FileNotFoundError, OSError
        If the converted data is not there (the message names ``data_scripts/fetch.py``).
    """
    recipe, data_dir = resolve_recipe(recipe), check_path(data_dir, "data_dir")
    spec = dataset_spec(recipe.dataset)
    plan = resolve_split(spec, data.annotated_frames(spec.name, data_dir), recipe.truth, recipe.train_frames or None)
    train_truth, train_ids = plan.train
    train = data.load_frames(spec.name, train_ids, train_truth, data_dir)
    notes = {g.name: g.note for g in spec.split.held_out}
    groups = []
    for name, (truth, ids) in plan.groups.items():
        if ids:
            frames = data.load_frames(spec.name, ids, truth, data_dir)
            groups.append(
                {
                    "name": name,
                    "note": notes[name],
                    "truth": truth,
                    "ids": list(ids),
                    "x": [f.image for f in frames],
                    "y": [f.target for f in frames],
                }
            )
    if not groups:
        raise ValueError(
            f"{spec.name} in this data folder has no held-out frame for the split ({plan.rule}); "
            "import the complete data with data_scripts/fetch.py"
        )
    first = groups[0]
    source = (
        f"{spec.name}: {len(train_ids)} training frames ({frame_span(train_ids)}, {truth_label(train_truth)}); "
        + "; ".join(
            f"held out: {g['name']}, {len(g['ids'])} frames ({frame_span(g['ids'])}), {truth_label(g['truth'])}"
            for g in groups
        )
    )
    return capped_data(
        dict(
            train_x=[f.image for f in train],
            train_y=[f.target for f in train],
            val_x=first["x"],
            val_y=first["y"],
            semantic=spec.target == "semantic",
            truth=first["truth"],
            train_truth=train_truth,
            train_ids=list(train_ids),
            val_ids=first["ids"],
            groups=groups,
            source=source,
            training_data=plan.training_data(),
        )
    )
