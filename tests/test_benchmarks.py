"""benchmarks/: the shared timer and peaks, and the training-throughput rows on tiny networks (CPU)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from _book import load_script

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
common = load_script(BENCH / "_common.py", "_common")


def test_timeit_counts_repeats_after_warmup_and_names_its_timer():
    calls = []
    t = common.timeit(lambda: calls.append(1), repeat=4, warmup=2, device="cpu")
    assert len(calls) == 6 and t["repeat"] == 4 and t["timer"] == "perf_counter"
    assert 0 <= t["min_s"] <= t["median_s"] and t["min_s"] <= t["mean_s"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_timeit_uses_cuda_events_on_a_gpu():
    a = torch.randn(2048, 2048, device="cuda")
    t = common.timeit(lambda: a @ a, repeat=3, warmup=1, device="cuda")
    assert t["timer"] == "cuda events" and t["repeat"] == 3 and 0 < t["min_s"] <= t["median_s"]  # no speed bound


def test_dense_bf16_peak_takes_the_most_specific_name():
    assert common.dense_bf16_peak("NVIDIA H100 PCIe") == 756.0e12
    assert common.dense_bf16_peak("NVIDIA H100 80GB HBM3") == common.dense_bf16_peak("NVIDIA H200") == 989.4e12
    assert common.dense_bf16_peak("NVIDIA A100-SXM4-80GB") == 312.0e12
    assert common.dense_bf16_peak("Tesla T4") is None and common.dense_bf16_peak(None) is None


def test_results_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("UNET_BENCH_RESULTS_DIR", str(tmp_path))
    fresh = load_script(BENCH / "_common.py", "_common_env")
    path = fresh.write_result("probe", {"device": "cpu", "x": 1})
    assert path == tmp_path / "probe.json" and not list(tmp_path.glob("*.part"))


@pytest.mark.slow
def test_throughput_rows_report_fractions_of_the_measured_peaks(monkeypatch):
    bench = load_script(BENCH / "bench_train.py", "bench_train")
    monkeypatch.setattr(bench, "matmul_peak", lambda dev, dtype, *a, **k: 1e11 if dtype == torch.float32 else 2e11)
    out = bench.throughput(
        "cpu",
        steps=1,
        compile_=False,
        recipes=("isbi2012-smoke",),
        paper=True,
        paper_recipes=("isbi2012-fusionnet-smoke",),
        paper_batches=(1, 2),
    )
    timed = [r for r in out["rows"] if "s_per_step" in r]
    assert {(r["network"], r["batch"]) for r in timed} >= {
        ("isbi2012-smoke", 1),
        ("isbi2012-fusionnet-smoke", 1),
        ("isbi2012-fusionnet-smoke", 2),
    }
    for r in timed:
        assert r["gflops"] == pytest.approx(r["train_flop_per_step"] / 1e9 / r["s_per_step"], rel=1e-3, abs=0.06)
        assert r["fraction_of_fp32_matmul_peak"] == pytest.approx(r["gflops"] / 100, rel=1e-2, abs=2e-3)
        assert "fraction_of_dense_bf16_peak" not in r  # no data sheet for a CPU
    two = next(r for r in timed if r["network"] == "isbi2012-fusionnet-smoke" and r["batch"] == 2)
    one = next(r for r in timed if r["network"] == "isbi2012-fusionnet-smoke" and r["batch"] == 1)
    assert two["train_flop_per_step"] == 2 * one["train_flop_per_step"]
    data = [r for r in out["rows"] if "data_pipeline_s_per_item" in r]
    assert [r["network"] for r in data] == ["isbi2012-smoke", "isbi2012-fusionnet-smoke"]
    assert all(r["data_workers_to_keep_up"] >= 1 for r in data)


def test_roofline_quick_writes_consistent_intensities_and_bounds(tmp_path):
    bench = load_script(BENCH / "bench_roofline.py", "bench_roofline")
    path = bench.main(["--quick", "--recipe", "isbi2012-smoke", "--out", str(tmp_path / "roofline.json")])
    assert path == tmp_path / "roofline.json" and not list(tmp_path.glob("*.part"))
    data = json.loads(path.read_text())
    assert data["benchmark"] == "train_roofline" and len(data["loadavg"]["before"]) == 3
    assert {"avx512f", "avx512_bf16", "amx_bf16"} <= set(data["machine"]["cpu_facts"]["flags"])
    res = data["results"]
    peak, bw = res["matmul_fp32_peak_gflops"], res["roofline_bandwidth_gbs"]
    assert peak > 0 and bw > 0 and res["bandwidth"]["dram"]["add_gbs"] > 0
    assert set(res["layouts"]) == {"nchw", "channels_last"}
    for layout in res["layouts"].values():
        kinds = {r["kind"] for r in layout["layers"]}
        assert {"Conv2d", "ConvTranspose2d", "ReLU", "MaxPool2d", "crop+cat", "Adam"} <= kinds
        for row in layout["layers"]:
            for part in (row["fwd"], row["bwd"]):
                if not part["bytes"]:
                    continue
                assert part["bound_gflops"] <= peak * 1.001 + 0.01
                assert part["flop"] == 0 or (part["intensity"] > 0 and part["bound_gflops"] > 0)  # crop+cat: 0
                assert part["bound_gflops"] == pytest.approx(min(peak, bw * part["intensity"]), rel=0.01, abs=0.02)
                assert part["memory_bound"] == (part["intensity"] < peak / bw)
                assert part["bound_s"] == pytest.approx(
                    max(part["flop"] / peak, part["bytes"] / bw) / 1e9, rel=0.01, abs=2e-6
                )
            conv = row["kind"] == "Conv2d"
            assert not conv or row["bwd"]["flop"] in (row["fwd"]["flop"], 2 * row["fwd"]["flop"])
        s = layout["summary"]
        assert 0 <= s["memory_bound_share_of_time"] <= 1 and s["attainable_step_s"] > 0
        assert s["attainable_step_s"] == pytest.approx(
            sum(p["bound_s"] for r in layout["layers"] for p in (r["fwd"], r["bwd"]) if p["bytes"]), rel=0.01
        )
        assert len(s["top_layers_by_time"]) == 5 and layout["profiler_top_ops"]
    assert 0 < res["what_if"]["attainable_ratio_to_peak"] <= 1
