"""Run a recipe end to end: train on the training split, predict the held-out split, score (Tables 1, 2).

:func:`run_recipe` is what chapters 06 and 07 and ``python -m unet_core train --recipe NAME`` call:

1. data: the recipe's split (declared per dataset in :mod:`unet_core.data.datasets`: frame-id rules that give
   the same training frames whatever else a data folder holds), gold truth wherever the folder has it
   and silver truth only where it has none; every held-out group is scored and labelled on its own;
2. training: :class:`~unet_core.data.tiles.TrainingTiles` (Eq. 2 weights, Sec. 3.1 augmentation) and
   :func:`~unet_core.training.loop.train` with the recipe's ``TrainConfig``, checkpointed and resumable;
3. prediction: :func:`~unet_core.inference.tiling.predict_tiled` (overlap-tile, optional 8-fold TTA), the
   probability brought back to the full resolution when the recipe downsamples;
4. scores at full resolution: ISBI pixel / Rand / warping error, V_rand (split, merge), V_info;
   CTC SEG of the instances cut from ``p(cell)`` with a threshold chosen on the *training* frames.

A network is never scored on a frame it was trained on: checkpoints record their training frames
(``training_data``) and :func:`check_held_out` refuses otherwise. :func:`evaluate_recipe` scores a
published network or a checkpoint without training (``python -m unet_core evaluate``).
Nothing here touches the network; the data must have been converted by ``data_scripts/fetch.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
from skimage.transform import resize
from tqdm.auto import tqdm

from ..data.datasets import dataset_spec, truth_label
from ..data.labels import cut_instances, prob_stack, separate_touching, truth_instances
from ..data.tiles import TrainingTiles, normalize_image
from ..inference.tiling import predict_tiled
from ..metrics.isbi import pixel_error, rand_scores, rand_scores_thinned
from ..metrics.seg import seg_score, segmentation_errors
from ..metrics.warping import warping_error
from ..training.checkpoint import load_checkpoint, model_from_checkpoint
from ..training.distributed import world
from ..training.loop import train
from ..utils.files import atomic_write
from ..utils.system import resolve_device
from ..utils.validation import check_bool, check_int, check_path, fmt
from .capped import resolve_recipe
from .data import recipe_data
from .held_out import check_held_out
from .key import recipe_checkpoint_path
from .pretrained import pretrained_path, pretrained_registry
from .registry import Recipe
from .snapshots import SnapshotRecorder, snapshot_steps

__all__ = [
    'train_recipe',
    'predict_recipe',
    'score_recipe',
    'run_recipe',
    'evaluate_recipe',
    'loss_curve',
    'recipe_tiles',
]


CTC_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
LOSS_WINDOW = 100  # steps per point of a record's loss curve (loss_curve)


def _down(a: np.ndarray, f: int, order: int) -> np.ndarray:
    if f == 1:
        return a

    shape = (a.shape[0] // f, a.shape[1] // f)
    return resize(a, shape, order=order, preserve_range=True, anti_aliasing=order > 0).astype(a.dtype)


def data_workers(device: str | torch.device = "auto", cpus: int | None = None, world_size: int | None = None) -> int:
    """DataLoader workers for training on ``device``: 0 on the CPU (its cores run the network), else the
    CPUs left per process (``$WORLD_SIZE`` under torchrun), at most 8. A GPU step of the paper's network
    is shorter than the 20-40 ms a CPU core needs to deform a tile and look up its weight map, so the
    tiles are made in parallel (they are deterministic per index: any number of workers is exact).

    Examples
    --------
    >>> data_workers("cpu"), data_workers("cuda", cpus=16, world_size=2), data_workers("cuda", cpus=2)
    (0, 7, 1)
    """
    kind = resolve_device(device).type if device == "auto" else torch.device(device).type
    if kind == "cpu":
        return 0
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    size = world_size if world_size is not None else int(os.environ.get("WORLD_SIZE", "1"))
    return max(1, min(8, cpus // max(size, 1) - 1))


def train_recipe(
    recipe: Recipe,
    data_dir=None,
    *,
    runs_dir=None,
    device: str = "auto",
    checkpoint_path=None,
    progress: bool = False,
    resume: bool = True,
    data=None,
    snapshots: SnapshotRecorder | None = None,
):
    """Train the recipe's network (resuming its checkpoint); return ``(model, TrainResult, seconds)``.

    ``snapshots`` (a :class:`~unet_core.recipes.snapshots.SnapshotRecorder`) is called at its steps,
    step 0 included when the run starts from scratch; it does not change the trained weights.

    Raises
    ------
    TypeError, ValueError
        If ``recipe`` is not a Recipe or known name, ``device`` does not exist here, a path argument is
        not a path or a flag not a bool.
    FileNotFoundError, OSError
        If the data is not there (``data_scripts/fetch.py``) or ``runs_dir`` is a file.
    """

    recipe, _ = resolve_recipe(recipe), resolve_device(device)  # a bad device fails before the data is read
    checkpoint_path, runs_dir = check_path(checkpoint_path, "checkpoint_path"), check_path(runs_dir, "runs_dir")
    progress, resume = check_bool(progress, "progress"), check_bool(resume, "resume")
    if data is not None and not isinstance(data, dict):
        raise TypeError(f"data must be None or the dict of recipe_data(recipe), got {fmt(data)}")
    d = data if data is not None else recipe_data(recipe, data_dir)
    seed = int(recipe.train_options.get("seed", 0))  # one seed: weights, training tiles, dropout
    torch.manual_seed(seed)
    model = recipe.build_model()
    path = checkpoint_path if checkpoint_path is not None else recipe_checkpoint_path(recipe, runs_dir)
    tiles = recipe_tiles(recipe, d, out_size=model.output_size(recipe.tile), cache_dir=path.parent / "weights-cache")
    if snapshots is not None and not isinstance(snapshots, SnapshotRecorder):
        raise TypeError(f"snapshots must be None or a SnapshotRecorder, got {fmt(snapshots)}")
    every = snapshots.every if snapshots is not None else 0
    config = recipe.train_config(device=device, checkpoint_every=100, num_workers=data_workers(device), val_every=every)
    start = time.perf_counter()
    if snapshots is not None and not (resume and path.is_file()):  # a fresh run: no snapshot of an earlier one
        snapshots.reset()
        snapshots(model, 0)  # the initial weights (a no-op unless 0 is one of its steps)
    result = train(
        model,
        tiles,
        config,
        validate=snapshots,
        checkpoint_path=path,
        resume=resume,
        progress=progress,
        training_data=d["training_data"],
    )
    return model, result, time.perf_counter() - start


def predict_recipe(
    model, recipe: Recipe, images, device: str = "auto", tta: bool | None = None, progress: bool = False
) -> np.ndarray:
    """``(N, H, W)`` probability of cell at full resolution for a list of (H, W) images.

    ``progress`` shows a progress bar over the images.

    Raises
    ------
    TypeError, ValueError
        If ``recipe`` is not a Recipe or known name, ``model`` not a UNet, ``tta`` not a bool or None,
        ``images`` not a non-empty list or (N, H, W) stack of finite images (a single (H, W) image:
        wrap it in a list), or ``device`` does not exist here.
    """

    recipe = resolve_recipe(recipe)
    tta = recipe.tta if tta is None else check_bool(tta, "tta")
    if images is None or isinstance(images, (str, bytes, dict)) or not hasattr(images, "__len__"):
        raise TypeError(f"images must be a list of (H, W) images or an (N, H, W) array, got {fmt(images)}")
    if getattr(images, "ndim", 3) == 2 or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty list of (H, W) images or an (N, H, W) array, got "
            f"{fmt(images)}; wrap a single image in a list: [image]"
        )
    out = []
    for img in tqdm(images, desc="predict", unit="image", disable=not check_bool(progress, "progress")):
        img = np.asarray(img, np.float32)
        small = _down(img, recipe.downsample, 1)
        p = predict_tiled(model, normalize_image(small), device=device, tta=tta)[1]
        if recipe.downsample > 1:
            p = resize(p, img.shape, order=1, preserve_range=True)
        out.append(p.astype(np.float32))
    return np.stack(out)


def recipe_tiles(
    recipe: Recipe, data: dict, *, length: int | None = None, out_size: int | None = None, cache_dir=None
) -> TrainingTiles:
    """The training tiles of ``recipe`` on ``data``, as its training draws them.

    Parameters
    ----------
    recipe : Recipe
        Its tile, network (for the output size), seed, Eq. 2 constants, class weights, augmentation,
        downsampling and separation gap.
    data : dict
        :func:`unet_core.recipes.data.recipe_data` of the recipe (``train_x``, ``train_y``, ``semantic``).
    length : int or None
        Tiles in the dataset; None: one per training step (at least one per image).
    out_size : int or None
        The network's output side for the recipe's tile; None: from a network built for the purpose
        (without touching torch's global random state).
    cache_dir : path or None
        Where weight maps are cached as files (None: in memory only).

    Returns
    -------
    TrainingTiles
        Item ``i`` is ``(image (1, tile, tile), label (out, out), weight (out, out))``, the same item the
        recipe's training uses at step ``i`` (batch 1).
    """
    f = recipe.downsample
    images = [_down(x, f, 1) for x in data["train_x"]]
    targets = [_down(y, f, 0) for y in data["train_y"]]
    if recipe.separation_gap:
        targets = [separate_touching(y, recipe.separation_gap) for y in targets]
    if length is None:
        length = max(recipe.iterations * recipe.batch_size, len(images))
    if out_size is None:
        with torch.random.fork_rng(devices=[]):
            out_size = recipe.build_model().output_size(recipe.tile)
    return TrainingTiles(
        images,
        targets,
        in_size=recipe.tile,
        out_size=out_size,
        seed=int(recipe.train_options.get("seed", 0)),
        length=check_int(length, "length", low=1, fix="a number of tiles, e.g. 64"),
        w0=recipe.w0,
        sigma=recipe.sigma,
        class_weights=recipe.class_weights,
        semantic=data["semantic"],
        augment=recipe.augment_config(),
        cache_dir=cache_dir,
    )


def _instances(prob, threshold, recipe) -> np.ndarray:
    return np.stack(
        [cut_instances(p, threshold, recipe.instances, recipe.seed_threshold, recipe.grow_px) for p in prob]
    )


def _seg(prob, truth, threshold, recipe) -> float:
    return float(seg_score(_instances(prob, threshold, recipe), np.stack(truth)))


def score_recipe(recipe: Recipe, prob: np.ndarray, truth, train_prob=None, train_truth=None) -> dict:
    """Scores of held-out probabilities ``prob`` (N, H, W) against ``truth`` (list of (H, W)).

    ``train_prob`` and ``train_truth`` (the training frames) are needed for a CTC recipe whose
    threshold is ``"train"``: it is chosen there. A CTC recipe also reports, at that threshold, the
    ``truth cells``, ``merged cells`` and ``missed cells`` of :func:`~unet_core.metrics.seg.segmentation_errors`.

    Raises
    ------
    TypeError
        If ``recipe`` is not a Recipe or name, ``prob`` not a numeric array, ``truth`` not a list of
        images, or the training frames are missing where they are needed.
    ValueError
        For an unknown recipe name, NaN/inf in ``prob`` (ISBI: also values outside [0, 1]) or shapes
        that differ.
    """
    recipe, prob = resolve_recipe(recipe), prob_stack(prob, "prob")
    truth = truth_instances(truth, prob.shape, "truth")
    measures = dataset_spec(recipe.dataset).measures
    if measures == "instances" and recipe.threshold == "train":
        if train_prob is None or train_truth is None:
            raise TypeError(
                f"train_prob and train_truth are needed: recipe {recipe.name!r} chooses its threshold on "
                "the training frames (threshold='train'); pass them, or a recipe with a fixed threshold"
            )
        train_prob = prob_stack(train_prob, "train_prob")
        train_truth = truth_instances(train_truth, train_prob.shape, "train_truth")
    if measures == "membranes":
        t = truth > 0
        rand, thin = rand_scores(prob, t), rand_scores_thinned(prob, t)
        warp, detail = warping_error(prob, t, return_details=True)  # Fiji's algorithm (41 x 41 window)
        return {
            "pixel error": pixel_error(prob, t),
            "Rand error": 1 - rand["v_rand"],
            "warping error": warp,
            "V_rand": rand["v_rand"],
            "V_rand split": rand["v_rand_split"],
            "V_rand merge": rand["v_rand_merge"],
            "V_info": rand["v_info"],
            "V_rand after thinning": thin["v_rand"],
            "V_info after thinning": thin["v_info"],
            "threshold (Rand)": rand["threshold_rand"],
            "threshold (warping)": detail["threshold"],
            "warping split / merge pixels": [int(detail["split"]), int(detail["merge"])],
        }
    if recipe.threshold == "train":
        per = {t: _seg(train_prob, train_truth, t, recipe) for t in CTC_THRESHOLDS}
        threshold = max(per, key=per.get)
    else:
        per, threshold = {}, recipe.threshold
    held = {t: _seg(prob, truth, t, recipe) for t in CTC_THRESHOLDS}
    seg = held[threshold] if threshold in held else _seg(prob, truth, threshold, recipe)
    return {
        "SEG": seg,
        "threshold": threshold,
        "threshold chosen on": "training frames" if per else "fixed",
        "SEG on training frames by threshold": {str(k): v for k, v in per.items()},
        "SEG on held-out frames by threshold (not used to choose)": {str(k): v for k, v in held.items()},
        # at the chosen threshold: true cells that share their matched predicted cell, or have none
        **segmentation_errors(_instances(prob, threshold, recipe), np.stack(truth)),
    }


def run_recipe(
    recipe: str | Recipe,
    data_dir=None,
    *,
    runs_dir=None,
    device: str = "auto",
    progress: bool = False,
    checkpoint_path=None,
    train: bool = True,
    save_prob: bool = True,
    max_train_frames: int = 24,
    trust_unrecorded: bool = False,
    snapshots: bool = True,
) -> dict:
    """Train (or load) a recipe's network, predict its held-out frames and score them.

    Parameters
    ----------
    recipe : name or Recipe
    data_dir : path or None
        Converted data root (None: ``$UNET_DATA_DIR`` or ``./data``).
    runs_dir : path or None
        Checkpoints and cached weight maps (None: ``$UNET_RUNS_DIR`` or ``./runs``).
    checkpoint_path : path or None
        Use this checkpoint instead of the recipe's run folder (e.g. the published one).
    train : bool
        False: only load ``checkpoint_path`` (or the run folder's) and score; the network the checkpoint
        records is rebuilt.
    max_train_frames : int
        CTC: at most this many training frames (evenly spaced) are predicted to choose the threshold.
    trust_unrecorded : bool
        Score a checkpoint that does not record its training frames (see :func:`check_held_out`).
    snapshots : bool
        While training, keep the first held-out frame's prediction at the steps of
        :func:`~unet_core.recipes.snapshots.snapshot_steps` in ``<checkpoint>.snapshots.npz``
        (:class:`~unet_core.recipes.snapshots.SnapshotRecorder`); it does not change the trained weights.

    Returns
    -------
    dict
        ``recipe`` (its fields), ``values`` (scores of the primary held-out group), ``held-out groups``
        (one entry per group with frames in this folder: ``name``, ``note``, ``truth``, ``frames``,
        ``values``), ``truth`` (the primary group's, as a label), ``trained on`` (the checkpoint's record),
        ``steps``, ``train seconds (this call)``, ``seconds per step``, ``predict seconds``, ``checkpoint``,
        ``snapshots`` (the snapshot file, or None) and ``source``.

    Raises
    ------
    TypeError, ValueError
        If ``recipe`` is not a Recipe or known name, ``device`` does not exist here, a path argument is not
        a path, a flag not a bool or ``max_train_frames`` not an int >= 1.
    TrainedOnHeldOutError
        (a ValueError) if the network was trained on a frame about to be scored, or records no training
        frames (unless ``trust_unrecorded``).
    FileNotFoundError, OSError
        If the data (``data_scripts/fetch.py``) or, with ``train=False``, the checkpoint is not there.
    """

    r, _ = resolve_recipe(recipe), resolve_device(device)  # a bad device fails before the data is read
    checkpoint_path = check_path(checkpoint_path, "checkpoint_path")
    train, save_prob, progress, trust_unrecorded, snapshots = (
        check_bool(v, n)
        for v, n in (
            (train, "train"),
            (save_prob, "save_prob"),
            (progress, "progress"),
            (trust_unrecorded, "trust_unrecorded"),
            (snapshots, "snapshots"),
        )
    )
    max_train_frames = check_int(max_train_frames, "max_train_frames", low=1)
    d = recipe_data(r, data_dir)
    path = checkpoint_path if checkpoint_path is not None else recipe_checkpoint_path(r, runs_dir)
    recorder = None
    if train and snapshots and world()[0] == 0:
        g = d["groups"][0]
        recorder = SnapshotRecorder(
            lambda m, x: predict_recipe(m, r, [x], device, tta=False)[0],
            g["x"][0],
            g["y"][0],
            g["ids"][0],
            path.with_suffix(".snapshots.npz"),
            snapshot_steps(r.iterations),
        )
    if train:
        before = load_checkpoint(path)["step"] if path.is_file() else 0
        model, result, seconds = train_recipe(
            r, data=d, device=device, checkpoint_path=path, progress=progress, snapshots=recorder
        )
        steps, losses, trained_now, record = result.step, result.losses, result.step - before, d["training_data"]

        rank, size = world()
        if rank:  # torchrun: every rank trained its share of the batches; rank 0 alone predicts and scores
            return {
                "recipe": r.to_dict(),
                "rank": rank,
                "world_size": size,
                "steps": int(steps),
                "checkpoint": str(path),
            }
    else:
        ckpt = load_checkpoint(path)
        record = ckpt.get("training_data")
        model = model_from_checkpoint(path)
        steps, losses, seconds, trained_now = ckpt["step"], ckpt["history"]["losses"], 0.0, 0
    check_held_out(
        record, r.dataset, [i for g in d["groups"] for i in g["ids"]], str(path), trust_unrecorded=trust_unrecorded
    )
    model.eval()
    start = time.perf_counter()
    probs = [predict_recipe(model, r, g["x"], device, progress=progress) for g in d["groups"]]
    predict_seconds = time.perf_counter() - start
    train_prob = train_truth = None
    if not d["semantic"] and r.threshold == "train":
        idx = np.unique(np.linspace(0, len(d["train_x"]) - 1, min(max_train_frames, len(d["train_x"]))).astype(int))
        train_prob = predict_recipe(model, r, [d["train_x"][i] for i in idx], device, progress=progress)
        train_truth = [d["train_y"][i] for i in idx]
    if save_prob:
        _save_array(path.with_suffix(".val_prob.npy"), probs[0])
        if train_prob is not None:
            _save_array(path.with_suffix(".train_prob.npy"), train_prob)
    groups = [
        {
            "name": g["name"],
            "note": g["note"],
            "truth": truth_label(g["truth"]),
            "frames": g["ids"],
            "values": score_recipe(r, p, g["y"], train_prob, train_truth),
        }
        for g, p in zip(d["groups"], probs)
    ]
    losses = np.asarray(losses, float)
    return {
        "recipe": r.to_dict(),
        "values": groups[0]["values"],
        "truth": groups[0]["truth"],
        "held-out groups": groups,
        "trained on": record,
        "steps": int(steps),
        "steps trained in this call": int(trained_now),
        "train seconds (this call)": round(seconds, 1),
        "seconds per step": round(seconds / trained_now, 3) if trained_now else None,
        "loss, first / last 100 steps": [float(losses[:100].mean()), float(losses[-100:].mean())]
        if len(losses)
        else None,
        "loss per 100 steps": loss_curve(losses),
        "predict seconds": round(predict_seconds, 1),
        "checkpoint": str(path),
        "snapshots": str(recorder.path) if recorder is not None and recorder.probs else None,
        "source": d["source"],
    }


def loss_curve(losses, window: int = LOSS_WINDOW) -> list[float]:
    """The training loss averaged over consecutive windows of ``window`` steps (a last partial window too).

    A run's record keeps this short curve (45 numbers for 4500 steps), so that the book can draw how
    fast a run learned without its checkpoint.

    Examples
    --------
    >>> loss_curve([4.0, 2.0, 1.0, 1.0, 0.5], window=2)
    [3.0, 1.0, 0.5]
    >>> loss_curve([])
    []
    """
    losses = np.asarray(losses, float).ravel()
    window = check_int(window, "window", low=1, fix="a number of steps, e.g. 100")
    return [round(float(losses[i : i + window].mean()), 5) for i in range(0, len(losses), window)]


def _save_array(path: Path, array: np.ndarray) -> None:
    """``np.save`` through a temporary file and a rename: an interrupted write leaves no partial file."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a handle: np.save would append ".npy" to the temporary name
            np.save(handle, array)

    atomic_write(path, write)


def evaluate_recipe(
    recipe: str | Recipe,
    checkpoint=None,
    data_dir=None,
    *,
    device: str = "auto",
    progress: bool = False,
    trust_unrecorded: bool = False,
) -> dict:
    """Score a network on the recipe's held-out frames, as the challenge did (nothing is trained).

    Parameters
    ----------
    recipe : name or Recipe
        Its split, truth kind, prediction (tiling, TTA, downsampling) and scoring are used.
    checkpoint : path or None
        The network to score; None: the recipe's published network (sha256-verified).
    data_dir : path or None
        Converted data root (None: ``$UNET_DATA_DIR`` or ``./data``).
    device : str
    progress : bool
        Progress bars over the predicted images.
    trust_unrecorded : bool
        Score a checkpoint that does not record its training frames.

    Returns
    -------
    dict
        As :func:`run_recipe` (``values``, ``held-out groups`` with each group's truth kind), plus
        ``network`` (the published name or the checkpoint path).

    Raises
    ------
    TrainedOnHeldOutError
        If the network was trained on one of the frames to be scored (the message names them).
    ValueError, TypeError, FileNotFoundError, OSError
        As :func:`run_recipe`; ValueError also when ``checkpoint`` is None and the recipe has no published
        network.

    Examples
    --------
    >>> result = evaluate_recipe("phc-u373-cpu")  # doctest: +SKIP
    >>> [(g["name"], g["truth"], round(g["values"]["SEG"], 3)) for g in result["held-out groups"]]  # doctest: +SKIP
    """

    r = resolve_recipe(recipe)
    if checkpoint is None:
        if r.name not in pretrained_registry():
            raise ValueError(
                f"recipe {r.name!r} has no published network; pass checkpoint=PATH (--checkpoint) or a "
                f"recipe with one: {', '.join(sorted(pretrained_registry()))}"
            )
        checkpoint, network = pretrained_path(r.name), f"published network {r.name}"
    else:
        checkpoint = check_path(checkpoint, "checkpoint", none_ok=False)
        network = str(checkpoint)
    result = run_recipe(
        r,
        data_dir,
        device=device,
        progress=progress,
        checkpoint_path=checkpoint,
        train=False,
        save_prob=False,
        trust_unrecorded=trust_unrecorded,
    )
    return {"network": network, **result}
