"""Training-step time (Sec. 3) and a learning-rate sweep on the synthetic demo task.

    python benchmarks/bench_train.py [--quick]
    python benchmarks/bench_train.py --recipes [--steps 40]   # the cpu recipes' networks -> train_recipes.json

Step time: seconds per SGD step of :func:`unet_core.training.loop.train` (forward, Eq. 1
loss, backward, momentum update) for one tile, fp32 vs bf16 autocast, for the
demo network and a narrow depth-5 network (and the paper's 64-channel network
on 572 x 572 tiles without ``--quick``). Learning-rate sweep (not with
``--quick``): synthetic EM, Eq. 2 weights, augmentation, trained for 200 steps
at each rate with the demo network (base_channels=8, depth=4, 188-pixel tiles)
and a narrow depth-5 network (16 channels, 252-pixel tiles); reports the losses
and the pixel error on an unseen synthetic image. Writes benchmarks/results/train.json.

``--recipes``: for each ``*-cpu`` recipe (unet_core.recipes.registry), seconds per training step of the recipe's
network and optimiser on its real training data (``$UNET_DATA_DIR``; synthetic stand-ins otherwise,
labelled), the share of the data pipeline (augmented tiles and Eq. 2 weights, measured alone), and
the steps that fit in 30 minutes. fp32 only: on CPUs without bf16 units bf16 is many times slower.
Writes benchmarks/results/train_recipes.json.

``--throughput [--device cpu|cuda]``: for the cpu recipes' network (16 channels, depth 5, 412 px tile;
the same for the three datasets) and FusionNet at its recipe tile, the bare training step (forward,
Eq. 1 loss, backward, Adam update on cached tensors: no data pipeline) for fp32 and each faster path
the device offers (channels_last; bf16 autocast where bf16 is not emulated; ``torch.compile`` of the
network unless ``--no-compile``), with the achieved GFLOP/s (3 x the forward FLOPs per step) and the
fraction of the machine's matmul peak measured in the same run (fp32 and bf16, 2048^3), the path
``precision="auto"`` picks, and the data pipeline's share of a full step (one augmented tile with
cached Eq. 2 weights, timed alone). On a GPU the paper's networks (64 channels: the U-Net at 572 px,
FusionNet at 640 px) are added at batch 1 and 8, in bf16 + channels_last eager, compiled and with CUDA
graphs (``mode="reduce-overhead"``), each also as a fraction of the data sheet's dense bf16 peak
(target >= 50 %); times are CUDA events after warm-up (``_common.timeit``).
Writes benchmarks/results/train_throughput[_cuda].json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dense_bf16_peak, matmul_peak, timeit, write_result  # noqa: E402

from unet_core.data.synthetic import synthetic_em  # noqa: E402
from unet_core.data.tiles import TrainingTiles, normalize_image  # noqa: E402
from unet_core.inference.tiling import predict_tiled  # noqa: E402
from unet_core.models.unet import UNet  # noqa: E402
from unet_core.training.loop import TrainConfig, train  # noqa: E402


def _random_tiles(model: UNet, tile: int, n: int = 4):
    rng = np.random.default_rng(0)
    out = model.output_size(tile)
    return [
        (
            torch.from_numpy(rng.normal(size=(1, tile, tile)).astype(np.float32)),
            torch.from_numpy(rng.integers(0, 2, size=(out, out))),
            torch.ones(out, out),
        )
        for _ in range(n)
    ]


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
            config = TrainConfig(iterations=steps, device="cpu", precision="bf16" if amp else "fp32")
            timing = timeit(lambda: train(model, data, config, progress=False), repeat=repeat, warmup=warmup)
            rows.append(
                {
                    "network": name,
                    "base_channels": base,
                    "depth": depth,
                    "tile": tile,
                    "amp_bf16": amp,
                    "s_per_step": timing["median_s"] / steps,
                }
            )
            print(rows[-1], flush=True)
    return rows


def lr_sweep(
    rates=(0.001, 0.003, 0.01, 0.03), steps: int = 200, base: int = 8, depth: int = 4, tile: int = 188
) -> list[dict]:
    image, labels, _ = synthetic_em((512, 512), seed=0)
    test, truth, _ = synthetic_em((512, 512), seed=1)
    rows = []
    for lr in rates:
        torch.manual_seed(0)
        model = UNet(base_channels=base, depth=depth)
        tiles = TrainingTiles(
            [image], [labels], in_size=tile, out_size=model.output_size(tile), semantic=True, length=steps
        )
        t0 = time.perf_counter()
        try:
            result = train(model, tiles, TrainConfig(learning_rate=lr, iterations=steps, device="cpu"), progress=False)
        except FloatingPointError as exc:
            rows.append({"learning_rate": lr, "base_channels": base, "depth": depth, "diverged": str(exc)})
            print(rows[-1], flush=True)
            continue
        probs = predict_tiled(model, normalize_image(test), device="cpu")
        rows.append(
            {
                "learning_rate": lr,
                "base_channels": base,
                "depth": depth,
                "tile": tile,
                "steps": steps,
                "loss_first_20": float(np.mean(result.losses[:20])),
                "loss_last_20": float(np.mean(result.losses[-20:])),
                "pixel_error": float((probs.argmax(0) != truth).mean()),
                "train_s": time.perf_counter() - t0,
            }
        )
        print(rows[-1], flush=True)
    return rows


def recipe_step_times(steps: int = 40) -> list[dict]:
    import dataclasses

    from unet_core.data.labels import separate_touching
    from unet_core.recipes.data import recipe_data
    from unet_core.recipes.registry import get_recipe

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
        tiles = TrainingTiles(
            d["train_x"],
            targets,
            in_size=recipe.tile,
            out_size=model.output_size(recipe.tile),
            length=steps + 5,
            w0=recipe.w0,
            sigma=recipe.sigma,
            class_weights=recipe.class_weights,
            semantic=d["semantic"],
            augment=recipe.augment_config(),
        )
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
        rows.append(
            {
                "recipe": name,
                "network": recipe.model_kwargs(),
                "tile": recipe.tile,
                "optimizer": recipe.optimizer,
                "data": source,
                "threads": torch.get_num_threads(),
                "s_per_step": round(step_s, 4),
                "data_pipeline_s_per_item": round(data_s, 4),
                "data_share": round(data_s / step_s, 3),
                "steps_per_30_min": int(1800 / step_s),
                "recipe_iterations": recipe.iterations,
                "recipe_minutes_at_this_rate": round(recipe.iterations * step_s / 60, 1),
            }
        )
        print(rows[-1], flush=True)
    return rows


def _flops(recipe) -> int:
    from unet_core.models.fusionnet_sizes import fusionnet_flops
    from unet_core.models.unet_sizes import unet_flops

    return (
        unet_flops(recipe.tile, base_channels=recipe.base_channels, depth=recipe.depth)
        if recipe.model == "unet"
        else fusionnet_flops(recipe.tile, base_channels=recipe.base_channels, depth=recipe.depth)
    )


def throughput(
    device: str = "cpu",
    steps: int = 10,
    compile_: bool = True,
    recipes=("isbi2012-cpu", "isbi2012-fusionnet-cpu"),
    paper: bool | None = None,
    paper_recipes=("isbi2012-full", "isbi2012-fusionnet-full"),
    paper_batches=(1, 8),
) -> dict:
    """The rows of ``--throughput`` (see the module docstring).

    ``paper``: add ``paper_recipes`` (the paper's networks) at ``paper_batches`` in bf16 (default: on a GPU).
    """
    from unet_core.inference.precision import PRECISIONS, candidates, choose_precision
    from unet_core.recipes.registry import get_recipe
    from unet_core.training.loss import weighted_cross_entropy

    dev = torch.device(device)
    gpu = dev.type == "cuda"
    peaks = {"fp32": matmul_peak(dev, torch.float32) / 1e9, "bf16": matmul_peak(dev, torch.bfloat16) / 1e9}
    sheet = dense_bf16_peak(torch.cuda.get_device_name(dev)) if gpu else None
    print({"matmul_peak_gflops": peaks, "dense_bf16_peak_gflops": sheet and sheet / 1e9}, flush=True)
    rows = []
    bf16_cl = PRECISIONS["bf16+channels_last"]
    jobs = []  # (recipe, batch, [(path label, Precision, torch.compile mode or None)], data pipeline and auto rows)
    for name in recipes:
        paths = [(p.name, p, None) for p in candidates(dev)]
        if compile_:
            paths.append(("fp32+channels_last+compile", PRECISIONS["fp32+channels_last"], "default"))
        jobs.append((get_recipe(name), 1, paths, True))
    if paper if paper is not None else gpu:  # the paper's networks, where a GPU makes them the point
        paths = [("bf16+channels_last", bf16_cl, None)] + (
            [
                ("bf16+channels_last+compile", bf16_cl, "max-autotune-no-cudagraphs"),
                ("bf16+channels_last+cudagraphs", bf16_cl, "reduce-overhead"),
            ]
            if compile_
            else []
        )
        for name in paper_recipes:
            for batch in paper_batches:
                jobs.append((get_recipe(name), batch, paths, batch == paper_batches[0]))
    for recipe, batch, paths, extras in jobs:
        name = recipe.name
        torch.manual_seed(0)
        model = recipe.build_model().to(dev)
        tile, out = recipe.tile, model.output_size(recipe.tile)
        fwd = _flops(recipe)
        rng = np.random.default_rng(0)
        x = torch.from_numpy(rng.normal(size=(batch, 1, tile, tile)).astype(np.float32)).to(dev)  # (B, 1, t, t)
        y = torch.from_numpy(rng.integers(0, 2, size=(batch, out, out))).to(dev)  # (B, o, o)
        w = torch.ones(batch, out, out, device=dev)
        for label, p, mode in paths:
            torch.manual_seed(0)
            net = recipe.build_model().to(
                dev, memory_format=torch.channels_last if p.channels_last else torch.contiguous_format
            )
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            fn = torch.compile(net, mode=mode) if mode else net
            xin = x.contiguous(memory_format=torch.channels_last) if p.channels_last else x

            def step():
                ctx = (
                    torch.autocast(dev.type, dtype=p.dtype)
                    if p.dtype is not None
                    else torch.autocast(dev.type, enabled=False)
                )
                with ctx:
                    logits = fn(xin)
                loss = weighted_cross_entropy(logits.float(), y, w)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

            try:
                t = timeit(step, repeat=steps, warmup=3 if mode else 2, device=dev)
            except Exception as exc:  # e.g. torch.compile without a C++ compiler
                rows.append(
                    {"network": name, "batch": batch, "path": label, "error": f"{type(exc).__name__}: {exc}"[:300]}
                )
                print(rows[-1], flush=True)
                continue
            gflops = 3 * batch * fwd / t["median_s"] / 1e9
            peak = peaks["bf16" if p.dtype == torch.bfloat16 else "fp32"]
            rows.append(
                {
                    "network": name,
                    "model": recipe.model,
                    "base_channels": recipe.base_channels,
                    "tile": tile,
                    "batch": batch,
                    "path": label,
                    "timer": t["timer"],
                    "s_per_step": round(t["median_s"], 5),
                    "min_s": round(t["min_s"], 5),
                    "train_flop_per_step": 3 * batch * fwd,
                    "train_gflop_per_step": round(3 * batch * fwd / 1e9, 2),
                    "gflops": round(gflops, 1),
                    "fraction_of_fp32_matmul_peak": round(gflops / peaks["fp32"], 3),
                    "fraction_of_own_dtype_peak": round(gflops / peak, 3),
                    **(
                        {"fraction_of_dense_bf16_peak": round(gflops * 1e9 / sheet, 3)}
                        if sheet and p.dtype == torch.bfloat16
                        else {}
                    ),
                }
            )
            print(rows[-1], flush=True)
        if not extras:
            continue
        choice = choose_precision(model, dev, tile, train=True)
        rows.append(
            {
                "network": name,
                "auto_choice": choice.precision.name,
                "auto_seconds": {k: round(v, 4) for k, v in choice.seconds.items()},
                "auto_agreement": {k: round(v, 4) for k, v in choice.agreement.items()},
            }
        )
        print(rows[-1], flush=True)
        # the data pipeline alone: one augmented tile with cached Eq. 2 weights
        try:
            from unet_core.recipes.data import recipe_data

            d, source = recipe_data(recipe), "real training data"
        except FileNotFoundError:
            pairs = [synthetic_em((512, 512), seed=k)[:2] for k in range(3)]
            d, source = (
                dict(train_x=[q[0] for q in pairs], train_y=[q[1] for q in pairs], semantic=True),
                "SYNTHETIC stand-in",
            )
        tiles = TrainingTiles(
            d["train_x"],
            d["train_y"],
            in_size=tile,
            out_size=out,
            length=steps + 5,
            w0=recipe.w0,
            sigma=recipe.sigma,
            class_weights=recipe.class_weights,
            semantic=d["semantic"],
            augment=recipe.augment_config(),
        )
        for k in range(len(d["train_x"])):
            tiles.label_and_weights(k)
        t0 = time.perf_counter()
        for i in range(steps):
            tiles[i]
        data_s = (time.perf_counter() - t0) / steps
        timed = [r for r in rows if r.get("network") == name and r.get("batch") == batch and "s_per_step" in r]
        fp32 = next((r for r in timed if r["path"] == "fp32"), None)
        fastest = min(timed, key=lambda r: r["s_per_step"]) if timed else None
        rows.append(
            {
                "network": name,
                "data": source,
                "data_pipeline_s_per_item": round(data_s, 4),
                **({"data_share_of_fp32_step": round(data_s / (data_s + fp32["s_per_step"]), 3)} if fp32 else {}),
                **(
                    {
                        "data_share_of_fastest_step": round(data_s / (data_s + fastest["s_per_step"]), 3),
                        "fastest_path": fastest["path"],
                        "data_workers_to_keep_up": int(np.ceil(data_s / fastest["s_per_step"])),
                    }
                    if fastest
                    else {}
                ),
            }
        )
        print(rows[-1], flush=True)
    return {
        "device": device,
        "threads": torch.get_num_threads(),
        "matmul_peak_gflops": peaks,
        "gpu": torch.cuda.get_device_name(dev) if gpu else None,
        "dense_bf16_peak_gflops": sheet and sheet / 1e9,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small networks only, no learning-rate sweep")
    parser.add_argument("--recipes", action="store_true", help="time the cpu recipes' training steps instead")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per recipe with --recipes")
    parser.add_argument("--throughput", action="store_true", help="training-step GFLOP/s vs the matmul peak")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile path")
    args = parser.parse_args()
    if args.throughput:
        if args.device == "cuda" and not torch.cuda.is_available():
            parser.error("--device cuda was requested but CUDA is not available here; use --device cpu")
        name = "train_throughput" + ("_cuda" if args.device == "cuda" else "")
        print(write_result(name, throughput(args.device, min(args.steps, 10), not args.no_compile)))
        return
    if args.recipes:
        print(write_result("train_recipes", {"device": "cpu", "rows": recipe_step_times(args.steps)}))
        return
    results = {"device": "cpu", "quick": args.quick, "step_time": step_times(args.quick)}
    if not args.quick:
        results["lr_sweep"] = {
            "setting": "synthetic_em 512x512 seed 0, TrainingTiles (Eq. 2, augmentation), "
            "200 steps, momentum 0.99, pixel error on synthetic_em seed 1",
            "rows": lr_sweep() + lr_sweep((0.001, 0.003, 0.01), base=16, depth=5, tile=252),
        }
    print(write_result("train", results))


if __name__ == "__main__":
    main()
