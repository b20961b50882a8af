"""Command line: ``python -m unet_core {demo,train,predict,evaluate}`` (also installed as ``unet-core``).

``demo``     a one-minute smoke run on synthetic EM-like data: train a narrow U-Net,
             predict a larger synthetic image tile by tile, write input | prediction | truth.
``train``    train a U-Net (or ``--model fusionnet``: FusionNet, Quan et al. 2016) on synthetic data
             or a converted real dataset, with checkpoints and --resume;
             ``--recipe NAME`` runs a named recipe (unet_core.recipes.registry): train, predict the
             held-out data, score it, and print (``--json``: write) the scores.
``predict``  segment a TIFF/PNG image with a checkpoint of either network (it records which network
             and its arguments, so predict rebuilds it), or with ``--recipe NAME`` (the published,
             sha256-verified network of that recipe); .npy (probabilities), .png or .tif (labels).
``evaluate`` score the published network of ``--recipe NAME`` (or ``--checkpoint PATH``) on the
             recipe's held-out frames, each held-out group on its own and labelled with its truth
             kind; it refuses a network that was trained on one of those frames.

User errors are reported as one line on stderr with exit status 2 (1 for an operation that
failed for another reason); ``--debug`` (or ``UNET_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import tifffile
import torch
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from .. import data
from ..data.datasets import dataset_names, dataset_spec, resolve_split
from ..data.folders import IMAGE_SUFFIXES, load_pairs
from ..data.labels import cut_instances
from ..data.synthetic import synthetic_em
from ..data.tiles import TrainingTiles, normalize_image
from ..inference.tiling import predict_tiled
from ..metrics.isbi import pixel_error
from ..models.registry import MODEL_NAMES, build_model, model_spec
from ..models.unet import UNet
from ..models.unet_sizes import MAX_DEPTH
from ..recipes.folder import FOLDER_DEFAULTS, score_folder, train_folder, trained_names
from ..recipes.pretrained import load_pretrained
from ..recipes.registry import get_recipe
from ..recipes.run import evaluate_recipe, predict_recipe, run_recipe
from ..training.checkpoint import load_checkpoint, model_from_checkpoint
from ..training.distributed import world
from ..training.loop import TrainConfig, train
from ..utils.files import atomic_write
from .checks import (
    Parser,
    UserError,
    as_flag_error,
    check_device,
    check_training_size,
    check_writable,
    debug_wanted,
    int_at_least,
    positive_float,
    read_image,
)

__all__ = ['main']


OUTPUT_SUFFIXES = (".npy", ".png", ".tif", ".tiff")


DATASETS = ("synthetic", *dataset_names())  # unet_core.data.datasets


PRECISION_CHOICES = (
    "auto",
    "fp32",
    "fp32+channels_last",
    "bf16",
    "bf16+channels_last",
)  # unet_core.inference.precision


# The demo network: 8 instead of 64 channels and 4 instead of 5 levels, so that 200 steps take
# well under a minute on 2 quiet CPU cores; it trains with TrainConfig's default learning rate.
DEMO = {"base_channels": 8, "depth": 4, "tile_size": 188, "iterations": 200}


TRAIN_ITERATIONS = 1000  # TrainConfig's default


# train flags that a --recipe fixes itself (name: argparse default)
_TRAIN_FLAGS = {
    "model": "unet",
    "data": "synthetic",
    "base_channels": None,
    "depth": 5,
    "tile_size": None,
    "lr": 0.001,
    "seed": 0,
    "resume": False,
    "precision": None,
}


# --------------------------------------------------------------------------- data
def _training_data(name: str, data_dir: str | None, seed: int):
    """Return ``(images, targets, semantic, training_data)`` of a dataset's declared training frames.

    The split and truth kind come from the dataset's declaration (``unet_core.data.datasets``: gold truth
    where the data folder has it, silver truth only where it has none); ``training_data`` is the
    record the checkpoint keeps (None for the synthetic stand-in).
    """

    if name == "synthetic":
        image, labels, _ = synthetic_em((512, 512), seed=seed)
        return [image], [labels], True, {"dataset": "synthetic", "truth": "labels", "train_frames": [f"seed/{seed}"]}
    root = Path(data_dir) if data_dir else data.default_data_dir()
    if not root.is_dir():
        raise UserError(f"--data-dir {str(root)!r} is not a folder; run data_scripts/fetch.py or set UNET_DATA_DIR")
    spec = dataset_spec(name)
    plan = resolve_split(spec, data.annotated_frames(name, root))
    frames = data.load_frames(name, plan.train[1], plan.train[0], root)
    return ([f.image for f in frames], [f.target for f in frames], spec.target == "semantic", plan.training_data())


def _tiles(name: str, data_dir: str | None, model, tile_size: int, seed: int, steps: int):
    """TrainingTiles with one item per step (item i is deterministic in (seed, i) whatever the length)."""

    images, targets, semantic, record = _training_data(name, data_dir, seed)
    return TrainingTiles(
        images,
        targets,
        in_size=tile_size,
        out_size=model.output_size(tile_size),
        seed=seed,
        length=max(steps, len(images)),
        semantic=semantic,
    ), record


# --------------------------------------------------------------------------- image I/O
def _write_output(path: Path, probs: np.ndarray) -> None:
    """npy: (K, H, W) float32 probabilities; png: labels * 255 // (K - 1); tif: labels 0..K-1."""

    suffix = path.suffix.lower()
    labels = probs.argmax(0).astype(np.uint8)  # (H, W)
    if suffix == ".npy":

        def save_npy(tmp: Path) -> None:
            with open(tmp, "wb") as handle:  # a handle: np.save would append ".npy" to the temporary name
                np.save(handle, probs.astype(np.float32))

        atomic_write(path, save_npy)
    elif suffix == ".png":
        scaled = (labels * (255 // max(probs.shape[0] - 1, 1))).astype(np.uint8)
        atomic_write(path, lambda tmp: Image.fromarray(scaled).save(tmp, format="PNG"))
    else:
        atomic_write(path, lambda tmp: tifffile.imwrite(tmp, labels))


def _check_output_suffix(path: Path) -> None:
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UserError(
            f"-o {str(path)!r} has an unknown suffix {path.suffix!r}; use one of {', '.join(OUTPUT_SUFFIXES)}"
        )


def _panel_png(path: Path, panels: list[tuple[str, np.ndarray]]) -> None:
    """Write panels (title, (H, W) array in [0, 1]) side by side with titles above, atomically."""

    h, w = panels[0][1].shape
    gap, head = 8, 20
    canvas = Image.new("L", (len(panels) * w + (len(panels) - 1) * gap, h + head), color=255)
    draw = ImageDraw.Draw(canvas)
    for i, (title, array) in enumerate(panels):
        x = i * (w + gap)
        canvas.paste(Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8)), (x, head))
        draw.text((x + 2, 4), title, fill=0)
    atomic_write(path, lambda tmp: canvas.save(tmp, format="PNG"))


# --------------------------------------------------------------------------- commands
def _demo(args) -> int:

    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise UserError(f"-o {str(out)!r} must end in .png")
    check_writable(out, "-o")
    check_device(args.device)
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    model = UNet(base_channels=DEMO["base_channels"], depth=DEMO["depth"])
    tiles, record = _tiles("synthetic", None, model, DEMO["tile_size"], args.seed, args.iterations)
    config = TrainConfig(iterations=args.iterations, seed=args.seed, device=args.device)
    result = train(model, tiles, config, progress=not args.quiet, training_data=record)
    image, truth, _ = synthetic_em((768, 768), seed=args.seed + 1)  # a larger, unseen synthetic image
    probs = predict_tiled(model, normalize_image(image), device=args.device)  # (2, H, W)
    prediction = probs.argmax(0)  # (H, W): 1 = cell, 0 = membrane
    error = float((prediction != truth).mean())
    isbi = pixel_error(probs[1], truth)
    _panel_png(
        out,
        [
            ("synthetic input", image),
            ("prediction (synthetic)", prediction.astype(float)),
            ("truth (synthetic)", truth.astype(float)),
        ],
    )
    print(
        f"demo: {result.step} steps, loss {np.mean(result.losses[:10]):.3f} -> {np.mean(result.losses[-10:]):.3f}; "
        f"synthetic test image {image.shape[0]}x{image.shape[1]}: pixel error {error:.4f} "
        f"(misclassified fraction), ISBI pixel error {isbi:.4f}; {time.perf_counter() - start:.0f} s; wrote {out}"
    )
    return 0


def _train_recipe(args) -> int:

    check_device(args.device)
    if args.json:
        check_writable(Path(args.json), "--json")
    flags = [f"--{k.replace('_', '-')}" for k, default in _TRAIN_FLAGS.items() if getattr(args, k) != default]
    if flags:
        raise UserError(
            f"--recipe {args.recipe} sets the network, data and optimiser; drop {', '.join(flags)} "
            "(only --iterations, --batch-size, --checkpoint, --data-dir, --device and --json combine "
            "with it)"
        )
    overrides = {k: v for k, v in (("iterations", args.iterations), ("batch_size", args.batch_size)) if v is not None}
    recipe = get_recipe(args.recipe, **overrides)
    out = run_recipe(
        recipe, args.data_dir, device=args.device, progress=not args.quiet, checkpoint_path=args.checkpoint
    )
    if out.get("rank"):  # torchrun: rank 0 reports (and wrote the checkpoint and the JSON)
        return 0
    if args.json:
        atomic_write(Path(args.json), lambda tmp: tmp.write_text(json.dumps(out, indent=1, default=str)))
    shown = {
        k: (round(v, 6) if isinstance(v, float) else v) for k, v in out["values"].items() if not isinstance(v, dict)
    }
    print(
        f"train: recipe {recipe.name}, {out['steps']} steps ({out['seconds per step'] or '-'} s/step), "
        f"checkpoint {out['checkpoint']}; held-out scores: {shown}"
    )
    return 0


def _train_folder(args) -> int:
    """``train --images DIR --labels DIR``: hold out a share, train (or fine-tune), score the held-out images."""
    if not (args.images and args.labels):
        raise UserError("give both --images DIR and --labels DIR (the label files are named like their images)")
    clash = [f for f, on in (("--recipe", args.recipe), ("--data", args.data != "synthetic"),
                            ("--model fusionnet", args.model != "unet")) if on]  # fmt: skip
    if clash:
        raise UserError(f"--images/--labels train a U-Net on your folder; drop {', '.join(clash)}")
    ckpt = Path(args.checkpoint or "checkpoints/folder.pt")
    if ckpt.exists() and not args.resume:
        raise UserError(f"--checkpoint {str(ckpt)!r} exists; pass --resume to continue it or choose another path")
    check_writable(ckpt, "--checkpoint")
    if args.json:
        check_writable(Path(args.json), "--json")
    check_device(args.device)
    data = load_pairs(args.images, args.labels, semantic=args.semantic, ignore_value=args.ignore_value)
    out = train_folder(data, ckpt, held_out=args.held_out, seed=args.seed, init=args.init, device=args.device,
                       iterations=args.iterations or FOLDER_DEFAULTS["iterations"], progress=not args.quiet,
                       base_channels=args.base_channels or FOLDER_DEFAULTS["base_channels"],
                       tile=args.tile_size or FOLDER_DEFAULTS["tile"])  # fmt: skip
    scores = score_folder(out["model"], data, out["held_out"], semantic=args.semantic, device=args.device,
                          trained_on=out["train"])  # fmt: skip
    report = {"checkpoint": str(ckpt), "steps": out["result"].step, "train": out["train"],
              "held out": out["held_out"], "scores": scores}  # fmt: skip
    if args.json:
        atomic_write(Path(args.json), lambda tmp: tmp.write_text(json.dumps(report, indent=1, default=str)))
    shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in scores["all"].items()}
    print(f"train: {len(out['train'])} images, {out['result'].step} steps, checkpoint {ckpt}; held out "
          f"{', '.join(out['held_out'])}: {shown}")  # fmt: skip
    return 0


def _train(args) -> int:

    if args.images or args.labels:
        return _train_folder(args)
    if args.recipe:
        return _train_recipe(args)
    if args.base_channels is None:
        args.base_channels = 64  # the paper's
    if args.json:
        raise UserError(
            "--json only works with --recipe (it writes the recipe's held-out scores); drop it or add --recipe NAME"
        )
    if args.iterations is None:
        args.iterations = TRAIN_ITERATIONS

    if args.tile_size is None:
        args.tile_size = model_spec(args.model).default_tile  # the paper's tile of that network: 572 or 640

    ckpt = Path(args.checkpoint or f"checkpoints/{args.data}.pt")
    if ckpt.is_dir():
        raise UserError(f"--checkpoint {str(ckpt)!r} is a folder; give a file path such as {str(ckpt / 'model.pt')!r}")
    if ckpt.exists() and not args.resume:
        raise UserError(f"--checkpoint {str(ckpt)!r} exists; pass --resume to continue it or choose another path")
    check_writable(ckpt, "--checkpoint")
    check_device(args.device)
    check_training_size(args)
    torch.manual_seed(args.seed)
    model = build_model(args.model, base_channels=args.base_channels, depth=args.depth)
    numerics = {} if args.precision is None else {"precision": args.precision}  # no flag: TrainConfig's default
    config = TrainConfig(
        learning_rate=args.lr,
        iterations=args.iterations,
        seed=args.seed,
        device=args.device,
        checkpoint_every=args.checkpoint_every,
        batch_size=args.batch_size or 1,
        **numerics,
    )
    tiles, record = _tiles(args.data, args.data_dir, model, args.tile_size, args.seed, args.iterations)
    result = train(
        model, tiles, config, checkpoint_path=ckpt, resume=args.resume, progress=not args.quiet, training_data=record
    )
    last = np.mean(result.losses[-10:]) if result.losses else float("nan")

    rank, size = world()
    if rank:  # torchrun: rank 0 reports (and wrote the checkpoint)
        return 0
    if size > 1:
        print(f"train: {size} processes (DistributedDataParallel), global batch {args.batch_size or 1}")
    print(
        f"train: {args.data}, {result.step} steps, mean loss of the last 10 steps {last:.4f}; {args.model} "
        f"checkpoint {ckpt}"
    )
    return 0


def _batch_inputs(path: Path) -> list[tuple[str, Path, int | None]] | None:
    """``[(name, file, page)]`` for a folder of images or a multi-page TIFF stack; None for one 2-D image."""
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"IMAGE {str(path)!r} is a folder without TIFF/PNG images; put the images there")
        return [(f.stem, f, None) for f in files]
    if path.suffix.lower() in (".tif", ".tiff") and path.is_file():
        with tifffile.TiffFile(path) as tif:
            shape, axes = (tif.series[0].shape, tif.series[0].axes) if tif.series else ((), "")
        if len(shape) == 3 and axes.endswith("YX") and axes[0] != "S":  # (N, H, W), not an RGB image
            return [(f"{path.stem}_{i:03d}", path, i) for i in range(shape[0])]
    return None


def _predict_batch(args, inputs) -> int:
    """Every image of a folder or stack: ``OUT/<name>.npy`` (K, H, W) probabilities, with ``--cells`` also
    ``OUT/<name>_cells.tif`` (uint16 cells cut at ``--threshold``)."""
    out = Path(args.output)
    if out.suffix:
        raise UserError(
            f"IMAGE {str(args.image)!r} holds {len(inputs)} images (a folder or a stack): -o {str(out)!r} "
            "must be an output folder (no suffix), e.g. -o preds"
        )
    if args.recipe is not None:
        model, recipe = load_pretrained(args.recipe)
    else:
        model, recipe = model_from_checkpoint(args.checkpoint), None
    out.mkdir(parents=True, exist_ok=True)
    for name, file, page in tqdm(inputs, desc="predict", unit="image", disable=args.quiet):
        image = read_image(file) if page is None else np.asarray(tifffile.imread(file)[page], np.float32)
        if recipe is not None:
            p = predict_recipe(model, recipe, [np.asarray(image, np.float32)], args.device, progress=False)[0]
            probs = np.stack([1 - p, p])
        else:
            probs = predict_tiled(model, normalize_image(image), tile_size=args.tile_size, device=args.device,
                                  tta=args.tta, progress=False)  # fmt: skip
        _write_output(out / f"{name}.npy", probs)
        if args.cells:
            cells = cut_instances(probs[1], args.threshold).astype(np.uint16)
            atomic_write(out / f"{name}_cells.tif", lambda tmp, c=cells: tifffile.imwrite(tmp, c))
    print(
        f"predict: {len(inputs)} image(s) of {args.image} -> {out}/<name>.npy"
        + (" and <name>_cells.tif" if args.cells else "")
    )
    return 0


def _predict(args) -> int:

    if (args.checkpoint is None) == (args.recipe is None):
        raise UserError("give exactly one of --checkpoint PATH or --recipe NAME")
    check_device(args.device)
    inputs = _batch_inputs(Path(args.image))
    if inputs is not None:
        return _predict_batch(args, inputs)
    out = Path(args.output)
    _check_output_suffix(out)  # before any work
    check_writable(out, "-o")
    check_device(args.device)
    image = read_image(Path(args.image))
    if args.recipe:
        model, recipe = load_pretrained(args.recipe)
        p = predict_recipe(model, recipe, [np.asarray(image, np.float32)], args.device, tta=True if args.tta else None)[
            0
        ]  # (H, W) probability of cell
        probs = np.stack([1 - p, p])  # (2, H, W)
    else:
        model = model_from_checkpoint(args.checkpoint)
        try:
            probs = predict_tiled(
                model,
                normalize_image(image),
                tile_size=args.tile_size,
                device=args.device,
                tta=args.tta,
                progress=not args.quiet,
                precision=args.precision,
            )
        except MemoryError as exc:
            need = str(exc).split(" needs ", 1)[-1].split(";")[0]
            raise UserError(
                f"--tile-size {args.tile_size} needs {need}; use a smaller --tile-size, or leave it out "
                "to choose one that fits automatically"
            ) from None
        except ValueError as exc:  # name the flags, not the python arguments
            raise as_flag_error(exc, {"tile_size": "--tile-size"}) from None
    _write_output(out, probs)
    print(f"predict: {args.image} {image.shape} -> {out} ({'probabilities' if out.suffix == '.npy' else 'labels'})")
    return 0


def _evaluate_folder(args) -> int:
    """``evaluate --images DIR --labels DIR --checkpoint PATH``: every image the network was not trained on."""
    if not (args.images and args.labels and args.checkpoint) or args.recipe:
        raise UserError("give --images DIR, --labels DIR and --checkpoint PATH (and no --recipe) to score your folder")
    if args.json:
        check_writable(Path(args.json), "--json")
    check_device(args.device)
    data = load_pairs(args.images, args.labels, semantic=args.semantic, ignore_value=args.ignore_value)
    seen = trained_names(load_checkpoint(args.checkpoint).get("training_data"), data)
    names = [n for n in data.names if n not in seen]
    if not names:
        raise UserError(f"the checkpoint was trained on every image of {args.images}; score it on images it never saw")
    model = model_from_checkpoint(args.checkpoint)
    scores = score_folder(model, data, names, semantic=args.semantic, threshold=args.threshold, device=args.device,
                          trained_on=seen)  # fmt: skip
    report = {"checkpoint": str(args.checkpoint), "skipped (trained on)": seen, **scores}
    if args.json:
        atomic_write(Path(args.json), lambda tmp: tmp.write_text(json.dumps(report, indent=1, default=str)))
    shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in scores["all"].items()}
    skipped = f"; skipped {len(seen)} training image(s)" if seen else ""
    print(f"evaluate: {args.checkpoint} on {len(names)} image(s) of {args.images}{skipped}: {shown}")
    return 0


def _evaluate(args) -> int:
    if args.images or args.labels:
        return _evaluate_folder(args)
    if not args.recipe:
        raise UserError("give --recipe NAME (a recipe's held-out frames) or --images DIR --labels DIR (your folder)")

    check_device(args.device)
    if args.json:
        check_writable(Path(args.json), "--json")
    recipe = get_recipe(args.recipe)
    out = evaluate_recipe(
        recipe,
        args.checkpoint,
        args.data_dir,
        device=args.device,
        progress=not args.quiet,
        trust_unrecorded=args.trust_unrecorded,
    )
    if args.json:
        atomic_write(Path(args.json), lambda tmp: tmp.write_text(json.dumps(out, indent=1, default=str)))
    print(
        f"evaluate: {out['network']} (recipe {recipe.name}), trained on "
        f"{len((out['trained on'] or {}).get('train_frames', [])) or 'unrecorded'} frames"
    )
    for g in out["held-out groups"]:
        shown = {
            k: (round(v, 6) if isinstance(v, float) else v)
            for k, v in g["values"].items()
            if not isinstance(v, (dict, list))
        }
        print(f"  {g['name']}: {len(g['frames'])} frames, against {g['truth']}: {shown}")
    return 0


# --------------------------------------------------------------------------- parser
def _parser() -> Parser:

    parser = Parser(prog="unet-core", description=__doc__.split("\n")[0])
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    common = Parser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    common.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_demo, _add_train, _add_predict, _add_evaluate):
        add(sub, common)
    return parser


def _add_demo(sub, common: Parser) -> None:
    demo = sub.add_parser(
        "demo", parents=[common], help="one-minute synthetic smoke run writing input | prediction | truth"
    )
    demo.add_argument("-o", "--output", default="demo_out/demo.png", help="PNG to write (default %(default)s)")
    demo.add_argument(
        "--iterations", type=int_at_least(1), default=DEMO["iterations"], help="SGD steps (default %(default)s)"
    )
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default %(default)s)")
    demo.add_argument(
        "--seed", type=int_at_least(0), default=0, help="seed of data, weights and dropout (default %(default)s)"
    )
    demo.set_defaults(func=_demo)


def _add_train(sub, common: Parser) -> None:
    tr = sub.add_parser("train", parents=[common], help="train a U-Net (Sec. 3) or a FusionNet and write a checkpoint")
    tr.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default="unet",
        help="unet (Ronneberger et al. 2015) or fusionnet (Quan et al. 2016) (default %(default)s)",
    )
    tr.add_argument("--data", choices=DATASETS, default="synthetic")
    tr.add_argument("--data-dir", help="converted datasets (default $UNET_DATA_DIR, else ./data)")
    tr.add_argument(
        "--recipe",
        help="run a named recipe (see unet_core.recipe_names()): train, predict the held-out split and score it",
    )
    tr.add_argument("--json", help="with --recipe: write the scores and timings to this JSON file")
    tr.add_argument(
        "--iterations",
        type=int_at_least(0),
        default=None,
        help=f"training steps (default {TrainConfig.iterations}, or the recipe's)",
    )
    tr.add_argument("--base-channels", type=int_at_least(1), default=None,
                    help="channels of the first level (default: the paper's 64; with --images 16)")  # fmt: skip
    tr.add_argument("--images", help="a folder of your images (TIFF/PNG); with --labels: train on them")
    tr.add_argument("--labels", help="a folder of label images named like the images (optionally *_mask.*)")
    tr.add_argument("--semantic", action="store_true", help="with --images: the labels are binary masks (0/1, 0/255)")
    tr.add_argument("--ignore-value", type=int_at_least(0), default=None,
                    help="with --images: a label value that marks pixels without annotation")  # fmt: skip
    tr.add_argument("--held-out", type=positive_float, default=FOLDER_DEFAULTS["held_out"],
                    help="with --images: share of the images held out and scored (default %(default)s)")  # fmt: skip
    tr.add_argument("--init", help="with --images: fine-tune from a recipe's published network or a checkpoint")
    tr.add_argument(
        "--depth", type=int_at_least(1, MAX_DEPTH), default=5, help="levels including the bottom one (paper: 5)"
    )
    tr.add_argument(
        "--tile-size",
        type=int_at_least(1),
        default=None,
        help="input tile size (default the paper's: 572 for unet, 640 for fusionnet)",
    )
    tr.add_argument(
        "--lr", type=positive_float, default=TrainConfig.learning_rate, help="learning rate (default %(default)s)"
    )
    tr.add_argument("--device", default="auto")
    tr.add_argument("--seed", type=int_at_least(0), default=0)
    tr.add_argument("--checkpoint", help="checkpoint file (default checkpoints/DATA.pt)")
    tr.add_argument("--checkpoint-every", type=int_at_least(0), default=100, help="steps between checkpoints")
    tr.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default=None,
        help="numerics of training: auto = the fastest path (fp32/bf16, channels_last) whose argmax "
        f"agrees with fp32 here, measured once; bf16 = bf16 autocast (default: TrainConfig's, "
        f"precision={TrainConfig.precision!r})",
    )
    tr.add_argument(
        "--batch-size",
        type=int_at_least(1),
        default=None,
        help="tiles per step, over all processes (torchrun: divisible by --nproc_per_node); default 1 "
        "(the paper's), or the recipe's with --recipe (full recipes: 8)",
    )
    tr.add_argument("--resume", action="store_true", help="continue from an existing --checkpoint")
    tr.set_defaults(func=_train)


def _add_predict(sub, common: Parser) -> None:
    pr = sub.add_parser("predict", parents=[common], help="segment an image with a trained checkpoint")
    pr.add_argument("image", help="input image (.tif, .tiff, .png, ...): one 2-D gray-value image, a folder of "
                    "them or a multi-page TIFF stack (then -o is an output folder)")  # fmt: skip
    pr.add_argument("--cells", action="store_true", help="a folder or stack: also write the cells cut at --threshold")
    pr.add_argument("--threshold", type=positive_float, default=0.5, help="with --cells: on p(cell) (default 0.5)")
    pr.add_argument(
        "-o",
        "--output",
        required=True,
        help=".npy: (K, H, W) float32 probabilities; .tif/.tiff: uint8 labels 0..K-1; "
        ".png: uint8 labels scaled by 255 // (K - 1) so that they are visible",
    )
    pr.add_argument("--checkpoint", help="checkpoint written by 'unet-core train' (either --model)")
    pr.add_argument(
        "--recipe",
        help="use the published, sha256-verified network of this recipe, e.g. isbi2012-cpu "
        "(with its downsampling and TTA)",
    )
    pr.add_argument("--tile-size", type=int_at_least(1), default=None, help="input tile size (default: automatic)")
    pr.add_argument("--tta", action="store_true", help="average over the 8 flips/rotations")
    pr.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default=None,
        help="numerics: auto = the fastest path whose argmax agrees with fp32 here, measured once (default: fp32)",
    )
    pr.add_argument("--device", default="auto")
    pr.set_defaults(func=_predict)


def _add_evaluate(sub, common: Parser) -> None:
    ev = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score a network on a recipe's held-out frames, as the challenge did (never on frames it was trained on)",
    )
    ev.add_argument("--recipe", help="the recipe whose split, prediction and scoring are used, e.g. phc-u373-cpu")
    ev.add_argument("--images", help="instead of --recipe: a folder of your images (with --labels, --checkpoint)")
    ev.add_argument("--labels", help="the folder of their label images, named like the images")
    ev.add_argument("--semantic", action="store_true", help="with --images: binary masks; pixel/Rand/warping error")
    ev.add_argument("--ignore-value", type=int_at_least(0), default=None, help="with --images: unannotated pixels")
    ev.add_argument("--threshold", type=positive_float, default=0.5, help="with --images: on p(cell) for cutting cells")
    ev.add_argument("--checkpoint", help="the network to score (default: the recipe's published network)")
    ev.add_argument("--data-dir", help="converted datasets (default $UNET_DATA_DIR, else ./data)")
    ev.add_argument("--json", help="write the scores of every held-out group to this JSON file")
    ev.add_argument("--device", default="auto")
    ev.add_argument(
        "--trust-unrecorded",
        action="store_true",
        help="score a checkpoint that does not record its training frames (older versions)",
    )
    ev.set_defaults(func=_evaluate)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 2 user error, 1 failed operation).

    Parameters
    ----------
    argv : list of str or None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status. A user error (bad flag or value, unreadable or wrong input file, not enough
        memory for what was asked) prints one line on stderr and returns 2; another failure
        (e.g. a RuntimeError inside torch) prints one line and returns 1. With ``--debug`` or
        ``UNET_DEBUG=1`` the exception propagates with its traceback.
    """
    args = _parser().parse_args(argv)
    debug = debug_wanted(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, FloatingPointError, MemoryError) as exc:
        if debug:
            raise
        print(f"unet-core {args.command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        if debug:
            raise
        print(
            f"unet-core {args.command}: failed: {type(exc).__name__}: {' '.join(str(exc).split())[:500]} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"unet-core {args.command}: interrupted", file=sys.stderr)
        return 130
