"""The held-out rule: a network is never scored on frames it was trained on."""

from __future__ import annotations

from ..data.datasets import dataset_spec
from ..utils.validation import check_bool, fmt

__all__ = ['check_held_out', 'TrainedOnHeldOutError']


def frame_span(ids) -> str:
    return f"{ids[0]}..{ids[-1]}" if len(ids) > 1 else ids[0]


class TrainedOnHeldOutError(ValueError):
    """A network is asked to be scored on frames it was trained on (or whose training frames are unknown)."""


def _dataset_key(name) -> str:
    try:
        return dataset_spec(name).name
    except (TypeError, ValueError):
        return str(name)


def check_held_out(
    training_data, dataset: str, frame_ids, where: str = "the checkpoint", *, trust_unrecorded: bool = False
) -> None:
    """Refuse to score a network on a frame it was trained on.

    Parameters
    ----------
    training_data : dict or None
        The checkpoint's record (``{"dataset", "truth", "train_frames"}``), see
        :func:`unet_core.training.checkpoint.load_checkpoint`; None when it has none.
    dataset : str
        The dataset being scored.
    frame_ids : sequence of str
        The frames about to be scored.
    where : str
        Names the network in the message (its checkpoint path or published name).
    trust_unrecorded : bool
        Score a network that records no training frames (older checkpoints) instead of refusing.

    Raises
    ------
    TrainedOnHeldOutError
        (a ValueError) naming the frames the network was trained on, or saying that it records none.
    TypeError
        If ``training_data`` is neither a dict nor None, ``dataset`` not a str, ``frame_ids`` a string or not
        iterable, or ``trust_unrecorded`` not a bool.

    Examples
    --------
    >>> check_held_out({"dataset": "phc-u373", "train_frames": ["02/010"]}, "phc-u373", ["02/077"])
    >>> check_held_out({"dataset": "synthetic"}, "isbi2012", ["25"])  # a stand-in's network: no frame seen
    >>> check_held_out({"dataset": "phc-u373", "train_frames": ["02/010"]}, "phc-u373", ["02/010"])
    Traceback (most recent call last):
    ...
    unet_core.recipes.held_out.TrainedOnHeldOutError: the network of the checkpoint was trained on phc-u373 frame(s) 02/010, which are about to be scored; score only held-out frames (python -m unet_core evaluate scores the recipe's held-out groups), or train on other frames (Recipe.train_frames)
    """
    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be a dataset name such as 'phc-u373', got {fmt(dataset)}")
    if isinstance(frame_ids, (str, bytes)) or not hasattr(frame_ids, "__iter__"):
        raise TypeError(f"frame_ids must be a list of frame ids such as ['02/077'], got {fmt(frame_ids)}")
    trust_unrecorded = check_bool(trust_unrecorded, "trust_unrecorded")
    if training_data is not None and not isinstance(training_data, dict):
        raise TypeError(
            f"training_data must be a checkpoint's record (a dict with 'train_frames') or None, got "
            f"{fmt(training_data)}"
        )
    if isinstance(training_data, dict) and _dataset_key(training_data.get("dataset", dataset)) != _dataset_key(dataset):
        return  # trained on another dataset (or the synthetic stand-in): no frame of this one was seen
    if not isinstance(training_data, dict) or "train_frames" not in training_data:
        if trust_unrecorded:
            return
        raise TrainedOnHeldOutError(
            f"{where} does not record the frames it was trained on, so scoring it on {dataset} could score it on "
            "its own training frames; retrain it with this version (checkpoints record their training frames), "
            "or pass trust_unrecorded=True (--trust-unrecorded) if you know it never saw these frames"
        )
    seen = sorted(set(map(str, training_data["train_frames"])) & set(map(str, frame_ids)))
    if seen:
        shown = ", ".join(seen[:10]) + (f" and {len(seen) - 10} more" if len(seen) > 10 else "")
        raise TrainedOnHeldOutError(
            f"the network of {where} was trained on {dataset} frame(s) {shown}, which are about to be scored; "
            "score only held-out frames (python -m unet_core evaluate scores the recipe's held-out groups), or "
            "train on other frames (Recipe.train_frames)"
        )
