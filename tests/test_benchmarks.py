"""benchmarks/: the shared timer and peaks, and the training-throughput rows on tiny networks (CPU)."""
from __future__ import annotations

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
    out = bench.throughput("cpu", steps=1, compile_=False, recipes=("isbi2012-smoke",), paper=True,
                           paper_recipes=("isbi2012-fusionnet-smoke",), paper_batches=(1, 2))
    timed = [r for r in out["rows"] if "s_per_step" in r]
    assert {(r["network"], r["batch"]) for r in timed} >= {("isbi2012-smoke", 1), ("isbi2012-fusionnet-smoke", 1),
                                                          ("isbi2012-fusionnet-smoke", 2)}
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
