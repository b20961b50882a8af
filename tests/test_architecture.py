"""The package's structure: the dependency rule of unet_core/_stages.py, read from the imports of every
module; no private names across modules; imports at the top; the public API pinned."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import unet_core
from unet_core._stages import LAZY_IMPORTS, STAGES

PKG = Path(unet_core.__file__).parent
SOURCES = sorted(p for p in PKG.rglob("*.py"))


def _module(path: Path) -> list[str]:
    return list(path.relative_to(PKG.parent).with_suffix("").parts)


def _imports(path: Path):
    """(node, absolute target parts, names) for every unet_core import of a module, top-level or not."""
    mod = _module(path)
    package = mod[:-1] if path.name != "__init__.py" else mod[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[: len(package) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            yield node, target, [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "unet_core":
            yield node, node.module.split("."), [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "unet_core":
                    yield node, a.name.split("."), []


def _stage(parts: list[str], names: list[str]) -> set[str]:
    """The stages an import reaches: ``from .. import data`` reaches the data stage."""
    if len(parts) > 1:
        return {parts[1]}
    return {n for n in names if n in STAGES} or {"<top>"}


def _stage_of(path: Path) -> str:
    parts = _module(path)
    return parts[1] if len(parts) > 2 else "<top>"


def test_the_rule_is_a_layering_without_cycles():
    order = list(STAGES)
    for stage, allowed in STAGES.items():
        assert all(order.index(a) < order.index(stage) for a in allowed), (stage, allowed)
    assert {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(STAGES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_follow_the_dependency_rule(path):
    stage = _stage_of(path)
    for node, target, names in _imports(path):
        for reached in _stage(target, names):
            if stage in ("<top>",) or reached == stage:
                continue
            if reached == "<top>":  # only what the package's root defines itself
                assert stage in ("book", "cli") and names == ["__version__"], ast.unparse(node)
                continue
            assert reached in STAGES[stage], (
                f"{path.relative_to(PKG)}: stage {stage!r} imports {reached!r} "
                f"({ast.unparse(node)}); unet_core/_stages.py allows {STAGES[stage]}"
            )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_private_names_across_modules(path):
    for node, _target, names in _imports(path):
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        assert not private, f"{path.relative_to(PKG)} imports private {private}: {ast.unparse(node)}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_are_at_the_top_unless_lazy_for_a_stated_reason(path):
    tree = ast.parse(path.read_text())
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {"." if node.level else node.module.split(".")[0]}
            else:
                continue
            assert roots <= set(LAZY_IMPORTS), (
                f"{path.relative_to(PKG)}:{node.lineno} imports inside "
                f"{func.name}(): {ast.unparse(node)}; move it to the top of the "
                "module or give the reason in unet_core/_stages.LAZY_IMPORTS"
            )


def test_the_module_graph_has_no_cycles():
    graph = {}
    for path in SOURCES:
        mod = ".".join(_module(path)).removesuffix(".__init__")
        deps = set()
        for _, target, names in _imports(path):
            full = ".".join(target)
            subs = (
                [f"{full}.{n}" for n in names if importlib.util.find_spec(f"{full}.{n}") is not None]
                if full.startswith("unet_core") and (PKG.parent / Path(*target)).is_dir()
                else []
            )
            deps.update(subs or [full])
        graph[mod] = {d for d in deps if d != mod and not mod.startswith(d + ".")}
    seen, stack = set(), []

    def visit(m):
        if m in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(m) :] + [m]))
        if m in seen:
            return
        stack.append(m)
        for d in graph.get(m, ()):
            visit(d)
        stack.pop()
        seen.add(m)

    for m in graph:
        if not m.endswith("__init__") and m.count(".") > 1:
            visit(m)


def test_modules_are_never_shadowed_by_a_name_of_their_package():
    for info in pkgutil.walk_packages(unet_core.__path__, "unet_core."):
        parent, _, leaf = info.name.rpartition(".")
        module = importlib.import_module(info.name)
        assert getattr(importlib.import_module(parent), leaf) is module, info.name


PUBLIC_API = [
    "AugmentConfig",
    "AugmentParams",
    "COPIED_VARIANT",
    "CtcSample",
    "DATASETS",
    "DatasetSpec",
    "FusionNet",
    "HeldOutGroup",
    "ISBI_THINNED_THRESHOLDS",
    "ISBI_THRESHOLDS",
    "IsbiData",
    "MEASURES",
    "MODEL_NAMES",
    "PADDINGS",
    "PRETRAINED_DIR",
    "RECIPES",
    "Recipe",
    "Split",
    "SplitPlan",
    "TRUTH_LABELS",
    "TrainConfig",
    "TrainResult",
    "TrainedOnHeldOutError",
    "TrainingTiles",
    "UNet",
    "WeightedCrossEntropy",
    "ablations",
    "annotated_frames",
    "apply_augmentation",
    "apply_elastic_field",
    "apply_elastic_field_torch",
    "augmentation_coordinates",
    "build_model",
    "center_crop",
    "check_held_out",
    "count_conv_layers",
    "count_parameters",
    "cut_instances",
    "dataset_names",
    "dataset_spec",
    "default_data_dir",
    "draw_augmentation",
    "estimate_memory",
    "estimate_tile_memory",
    "evaluate_recipe",
    "foreground_with_borders",
    "fusionnet_flops",
    "fusionnet_parameter_count",
    "fusionnet_receptive_field",
    "get_recipe",
    "he_init_",
    "input_size_for_output",
    "instances_from_labels",
    "is_valid_input_size",
    "layer_table",
    "learning_rate_at",
    "load_checkpoint",
    "load_ctc",
    "load_frames",
    "load_isbi2012",
    "load_pretrained",
    "measure_peak_memory",
    "mirror_pad",
    "model_from_checkpoint",
    "nearest_valid_input_sizes",
    "normalize_image",
    "pixel_error",
    "predict_recipe",
    "predict_tiled",
    "pretrained_path",
    "pretrained_registry",
    "publish_checkpoint",
    "rand_error",
    "rand_scores",
    "rand_scores_thinned",
    "random_elastic_field",
    "random_elastic_field_torch",
    "recipe_checkpoint_path",
    "recipe_data",
    "recipe_names",
    "reflect_index",
    "resolve_split",
    "run_recipe",
    "sample_training_tile",
    "save_checkpoint",
    "score_recipe",
    "seg_score",
    "separate_touching",
    "separation_border",
    "simple_point_lut",
    "synthetic_cells",
    "synthetic_em",
    "tile_origins",
    "train",
    "train_recipe",
    "unet_flops",
    "unet_output_size",
    "upsample_grid_displacements",
    "valid_input_sizes",
    "warp_labels",
    "warping_error",
    "weight_map",
    "weight_map_brute_force",
    "weighted_cross_entropy",
]


def test_the_public_api_is_pinned_and_resolves():
    assert sorted(unet_core.__all__) == sorted(PUBLIC_API)
    for name in PUBLIC_API:
        assert getattr(unet_core, name) is not None, name
    assert callable(unet_core.train) and callable(unet_core.weight_map)
