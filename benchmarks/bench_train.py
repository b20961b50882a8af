"""Training-step time (Sec. 3) and a learning-rate sweep on the synthetic demo task.

    python benchmarks/bench_train.py [--quick]
    python benchmarks/bench_train.py --recipes [--steps 40]   # the cpu recipes' networks -> train_recipes.json

Step time: seconds per SGD step of :func:`unet_core.train.train` (forward, Eq. 1
loss, backward, momentum update) for one tile, fp32 vs bf16 autocast, for the
demo network and a narrow depth-5 network (and the paper's 64-channel network
on 572 x 572 tiles without ``--quick``). Learning-rate sweep (not with
``--quick``): synthetic EM, Eq. 2 weights, augmentation, trained for 200 steps
at each rate with the demo network (base_channels=8, depth=4, 188-pixel tiles)
and a narrow depth-5 network (16 channels, 252-pixel tiles); reports the losses
and the pixel error on an unseen synthetic image. Writes benchmarks/results/train.json.

``--recipes``: for each ``*-cpu`` recipe (unet_core.recipes), seconds per training step of the recipe's
network and optimiser on its real training data (``$UNET_DATA_DIR``; synthetic stand-ins otherwise,
labelled), the share of the data pipeline (augmented tiles and Eq. 2 weights, measured alone), and
the steps that fit in 30 minutes. fp32 only: on CPUs without bf16 units bf16 is many times slower.
Writes benchmarks/results/train_recipes.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import timeit, write_result  # noqa: E402

from unet_core.data import TrainingTiles, normalize_image  # noqa: E402
from unet_core.network import UNet  # noqa: E402
from unet_core.synthetic import synthetic_em  # noqa: E402
from unet_core.tiling import predict_tiled  # noqa: E402
from unet_core.train import TrainConfig, train  # noqa: E402


def _random_tiles(model: UNet, tile: int, n: int = 4):
    rng = np.random.default_rng(0)
    out = model.output_size(tile)
    return [(torch.from_numpy(rng.normal(size=(1, tile, tile)).astype(np.float32)),
             torch.from_numpy(rng.integers(0, 2, size=(out, out))), torch.ones(out, out)) for _ in range(n)]


def step_times(quick: bool) -> list[dict]:
    cases = [("demo", 8, 4, 188), ("narrow depth 5", 16, 5, 252)]
    if not quick:
        cases.append(("paper (Fig. 1)", 64, 5, 572))
    rows = []
    for name, base, depth, tile in cases:
        for amp in (False, True):
            torch.manual_seed(0)
            model = UNet(base_channels=base, depth=depth)
            data = _random_tiles(model, tile)
            steps, repeat, warmup = (1, 2, 0) if base == 64 else (5, 3, 1)
            config = TrainConfig(iterations=steps, device="cpu", amp=amp)
            timing = timeit(lambda: train(model, data, config, progress=False), repeat=repeat, warmup=warmup)
            rows.append({"network": name, "base_channels": base, "depth": depth, "tile": tile,
                         "amp_bf16": amp, "s_per_step": timing["median_s"] / steps})
            print(rows[-1], flush=True)
    return rows


def lr_sweep(rates=(0.001, 0.003, 0.01, 0.03), steps: int = 200, base: int = 8, depth: int = 4,
             tile: int = 188) -> list[dict]:
    image, labels, _ = synthetic_em((512, 512), seed=0)
    test, truth, _ = synthetic_em((512, 512), seed=1)
    rows = []
    for lr in rates:
        torch.manual_seed(0)
        model = UNet(base_channels=base, depth=depth)
        tiles = TrainingTiles([image], [labels], in_size=tile, out_size=model.output_size(tile), semantic=True,
                              length=steps)
        t0 = time.perf_counter()
        try:
            result = train(model, tiles, TrainConfig(learning_rate=lr, iterations=steps, device="cpu"),
                           progress=False)
        except FloatingPointError as exc:
            rows.append({"learning_rate": lr, "base_channels": base, "depth": depth, "diverged": str(exc)})
            print(rows[-1], flush=True)
            continue
        probs = predict_tiled(model, normalize_image(test), device="cpu")
        rows.append({"learning_rate": lr, "base_channels": base, "depth": depth, "tile": tile, "steps": steps, "loss_first_20": float(np.mean(result.losses[:20])),
                     "loss_last_20": float(np.mean(result.losses[-20:])),
                     "pixel_error": float((probs.argmax(0) != truth).mean()), "train_s": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    return rows


def recipe_step_times(steps: int = 40) -> list[dict]:
    import dataclasses

    from unet_core.recipes import get_recipe
    from unet_core.reproduce import recipe_data, separate_touching

    rows = []
    for name in ("isbi2012-cpu", "phc-u373-cpu", "dic-hela-cpu"):
        recipe = get_recipe(name)
        try:
            d, source = recipe_data(recipe), "real training data"
        except FileNotFoundError:
            pairs = [synthetic_em((512, 512), seed=k)[:2] for k in range(3)]
            d = dict(train_x=[p[0] for p in pairs], train_y=[p[1] for p in pairs], semantic=True)
            source = "SYNTHETIC stand-in (no $UNET_DATA_DIR)"
        targets = d["train_y"]
        if recipe.separation_gap and not d["semantic"]:
            targets = [separate_touching(y, recipe.separation_gap) for y in targets]
        torch.manual_seed(0)
        model = UNet(**recipe.model_kwargs())
        tiles = TrainingTiles(d["train_x"], targets, in_size=recipe.tile, out_size=model.output_size(recipe.tile),
                              length=steps + 5, w0=recipe.w0, sigma=recipe.sigma, class_weights=recipe.class_weights,
                              semantic=d["semantic"], augment=recipe.augment_config())
        for k in range(len(d["train_x"])):
            tiles.label_and_weights(k)  # Eq. 2 maps once per image (cached for the whole run)
        t0 = time.perf_counter()
        items = [tiles[i] for i in range(steps)]
        data_s = (time.perf_counter() - t0) / steps
        config = dataclasses.replace(recipe, iterations=steps + 5).train_config(device="cpu")
        train(model, items[:5], dataclasses.replace(config, iterations=5), progress=False)  # warm-up
        t0 = time.perf_counter()
        train(model, tiles, config, progress=False)  # steps 0..steps+4 on fresh items, with the data pipeline
        step_s = (time.perf_counter() - t0) / (steps + 5)
        rows.append({"recipe": name, "network": recipe.model_kwargs(), "tile": recipe.tile,
                     "optimizer": recipe.optimizer, "data": source, "threads": torch.get_num_threads(),
                     "s_per_step": round(step_s, 4), "data_pipeline_s_per_item": round(data_s, 4),
                     "data_share": round(data_s / step_s, 3), "steps_per_30_min": int(1800 / step_s),
                     "recipe_iterations": recipe.iterations,
                     "recipe_minutes_at_this_rate": round(recipe.iterations * step_s / 60, 1)})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small networks only, no learning-rate sweep")
    parser.add_argument("--recipes", action="store_true", help="time the cpu recipes' training steps instead")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per recipe with --recipes")
    args = parser.parse_args()
    if args.recipes:
        print(write_result("train_recipes", {"device": "cpu", "rows": recipe_step_times(args.steps)}))
        return
    results = {"device": "cpu", "quick": args.quick, "step_time": step_times(args.quick)}
    if not args.quick:
        results["lr_sweep"] = {"setting": "synthetic_em 512x512 seed 0, TrainingTiles (Eq. 2, augmentation), "
                                          "200 steps, momentum 0.99, pixel error on synthetic_em seed 1",
                               "rows": lr_sweep() + lr_sweep((0.001, 0.003, 0.01), base=16, depth=5, tile=252)}
    print(write_result("train", results))


if __name__ == "__main__":
    main()
