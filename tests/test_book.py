"""The book: chapter/notebook pairing and conventions, the manifest, the build, and the static slider in a browser.

The chapters themselves are executed by the whole-book build in ``tests/test_book_pages.py`` (one
papermill run per chapter, then every page in Chromium). Here: fast checks of the
sources, plus (slow) a tiny book built with the real ``_config.yml``, the real slider helper and the
vendored widget JavaScript, served on 127.0.0.1 and driven in headless Chromium via chromedriver.
"""

from __future__ import annotations

import ast
import base64
import functools
import http.server
import importlib.util
import json
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from _book import load_build  # noqa: E402  (tests/ is on sys.path)
from _webdriver import CHROMEDRIVER, CHROMIUM, _WebDriver

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


build = load_build()
manifest = build.manifest  # book/manifest.py, as the build reads it
CHAPTERS = build.chapter_sources()
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


# --- sources -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("py", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_and_notebook_are_in_sync_and_output_free(py):
    nb = nbformat.read(py.with_suffix(".ipynb"), as_version=4)
    expected = build.paired_notebook(py)
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in expected.cells], (
        f"{py.name} and its .ipynb differ; run `python book/build.py --sync`"
    )
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_sync_is_idempotent(tmp_path):
    for py in CHAPTERS[:2]:
        shutil.copy2(py, tmp_path / py.name)
    assert len(build.sync(tmp_path)) == min(2, len(CHAPTERS))
    assert build.sync(tmp_path) == []


def test_toc_lists_existing_pages_and_every_chapter():
    pages = build.toc_files()
    assert pages[0] == "book/intro"
    assert len(pages) == len(set(pages)), "a page is listed twice in _toc.yml"
    for page in pages:
        assert (ROOT / f"{page}.md").exists() or (ROOT / f"{page}.ipynb").exists(), f"{page} is in _toc.yml but missing"
    notebooks = [p for p in pages if (ROOT / f"{p}.py").exists()]
    assert sorted(f"book/{p.stem}" for p in CHAPTERS) == sorted(notebooks)
    assert all((ROOT / f"{p}.md").exists() for p in pages if p not in notebooks)  # the other pages: Markdown
    assert pages[-1] == "book/references" and pages.index("book/results") > pages.index(notebooks[-2])


@pytest.mark.parametrize("py", [p for p in CHAPTERS if p.stem[:2].isdigit()], ids=lambda p: p.stem)
def test_chapter_conventions(py):
    nb = build.paired_notebook(py)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    code = params[0].source
    for line in ('SCALE = "smoke"', 'DEVICE = "auto"', "SEED = 0", "DATA_DIR = None"):
        assert re.search(rf"^{re.escape(line)}(?=\s|$)", code, re.M), f"parameters cell lacks `{line}`"
    repo, branch = CONFIG["repository"]["url"].rstrip("/"), CONFIG["repository"]["branch"]
    slug = repo.split("github.com/")[1]
    badge = f"https://colab.research.google.com/github/{slug}/blob/{branch}/book/{py.stem}.ipynb"
    assert badge in nb.cells[0].source, f"first cell needs the Open-in-Colab badge linking {badge}"
    assert "_static/colab-badge.svg" in nb.cells[0].source, "the badge image is vendored (book/_static)"
    colab = [c for c in nb.cells if "colab" in c.metadata.get("tags", [])]
    assert len(colab) == 1 and nb.cells.index(colab[0]) == nb.cells.index(params[0]) + 1, (
        "exactly one cell tagged 'colab', right after the parameters cell (copy it from 01_architecture.py)"
    )
    assert 'if "google.colab" in sys.modules:' in colab[0].source
    assert f'REPO, BRANCH = "{repo}", "{branch}"' in colab[0].source, (
        "the Colab cell must clone _config.yml's repository: run `python book/build.py --sync`"
    )
    assert '"-m", "pip", "install", "-q", f"{CLONE}[colab]"' in colab[0].source
    assert "SCALE, DEVICE = setup(COLAB_SCALE, DATASETS" in colab[0].source
    assert "remove-cell" in colab[0].metadata["tags"]


# --- the manifest: each chapter declared once, and every chapter says what its entry says ------------


def _colab_datasets(source: str) -> list[str] | None:
    """The ``DATASETS`` of a Colab cell's ``COLAB_SCALE, DATASETS = "auto", [...]``; None when it has none."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Tuple)
            and [getattr(t, "id", None) for t in node.targets[0].elts] == ["COLAB_SCALE", "DATASETS"]
        ):
            return list(ast.literal_eval(node.value)[1])
    return None


def _scale_dict_recipes(source: str, scale: str, known: set[str]) -> list[str]:
    """The ``known`` recipe names in the ``scale`` values of the source's dicts keyed by all three scales.

    In source order, once each: what a chapter's ``RECIPE = {"smoke": ..., "cpu": ..., "full": ...}[SCALE]``
    (06) or ``RECIPES = {...}`` (07: tuples of names, 09: dicts of ``get_recipe(name)``) selects.
    """
    found = []
    dicts = sorted(
        (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Dict)), key=lambda n: (n.lineno, n.col_offset)
    )
    for node in dicts:
        keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
        if not set(manifest.SCALES) <= set(keys):
            continue
        leaves = sorted(
            (n for n in ast.walk(node.values[keys.index(scale)]) if isinstance(n, ast.Constant)),
            key=lambda n: (n.lineno, n.col_offset),
        )
        found += [v for v in dict.fromkeys(leaf.value for leaf in leaves) if v in known and v not in found]
    return found


def _ablation_tables(source: str) -> dict[str, int]:
    """``{base: ABLATION_STEPS}`` for each ``ablations("base", ...)`` or ``comparisons.ablation_table("base", ...)``
    call of a chapter."""
    tree = ast.parse(source)
    bases = [
        n.args[0].value
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and (getattr(n.func, "id", None) == "ablations" or getattr(n.func, "attr", None) == "ablation_table")
        and n.args
        and isinstance(n.args[0], ast.Constant)
    ]
    steps = [
        n.value.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign)
        and isinstance(n.value, ast.Constant)
        and any(getattr(t, "id", None) == "ABLATION_STEPS" for t in n.targets)
    ]
    assert not bases or len(steps) == 1, "a chapter that shows an ablation table sets ABLATION_STEPS = N once"
    return {base: steps[0] for base in bases}


def test_scale_dict_scan_finds_nested_and_subscripted_dicts_and_ignores_others():
    source = (
        'A = {"smoke": "isbi2012-smoke", "cpu": "isbi2012-cpu", "full": "isbi2012-full"}["full"]\n'
        'B = {"smoke": {"x": get("dic-hela-smoke")}, "cpu": {}, "full": {"x": get("dic-hela-full"), "y": "nope"}}\n'
        'C = {"full": "phc-u373-full"}\n'
    )  # not keyed by all three scales
    known = {"isbi2012-full", "dic-hela-full", "phc-u373-full", "dic-hela-smoke"}
    assert _scale_dict_recipes(source, "full", known) == ["isbi2012-full", "dic-hela-full"]
    assert _scale_dict_recipes(source, "cpu", known) == []
    assert _colab_datasets('if x:\n    COLAB_SCALE, DATASETS = "auto", ["a", "b"]\n') == ["a", "b"]
    assert _colab_datasets("DATASETS = []\n") is None
    assert _ablation_tables('ABLATION_STEPS = 7\nfor r in ablations("x-cpu", iterations=ABLATION_STEPS): pass\n') == {
        "x-cpu": 7
    }


def test_manifest_and_toc_list_the_same_chapters_in_the_same_order():
    pages = build.toc_files()
    chapters = [
        p.removeprefix("book/")
        for p in pages
        if p not in ("book/intro", *(f"book/{n}" for n in build.LAST), "book/references")
        and not (ROOT / f"{p}.md").exists()  # Markdown pages (the instructor's) are no chapters
    ]
    assert chapters == manifest.stems(), (
        "_toc.yml and book/manifest.py must list the same chapters in the same order: a chapter is one entry in "
        "book/manifest.py's CHAPTERS and one `- file: book/NN_name` line in _toc.yml"
    )
    assert len(set(manifest.stems())) == len(manifest.stems()), "a chapter is declared twice in book/manifest.py"
    labels = [c.label for c in manifest.CHAPTERS]
    assert len(set(labels)) == len(labels), f"two chapters share a label: {labels}"
    for stem in manifest.stems():
        assert (BOOK / f"{stem}.py").is_file(), f"book/manifest.py declares {stem}, but book/{stem}.py is missing"
    assert [p.stem for p in CHAPTERS] == [*manifest.stems(), *build.LAST]


def test_a_chapter_without_a_manifest_entry_is_refused_by_the_build(tmp_path):
    (tmp_path / "01_architecture.py").write_text("")
    (tmp_path / "10_new_chapter.py").write_text("")
    with pytest.raises(
        ValueError,
        match=r"book/10_new_chapter.py is not a chapter of book/manifest.py .*add "
        r"Chapter\('10_new_chapter', label=\.\.\.",
    ):
        build.chapter_sources(tmp_path)
    with pytest.raises(SystemExit):
        build.main(["--sync", "--only", "10_new_chapter"])  # --only names a chapter of the manifest


def test_manifest_entries_are_checked_when_declared():
    with pytest.raises(ValueError, match=r"Chapter\('10_x'\).recipes has the scales \['cpu'\]; it must name"):
        manifest.Chapter("10_x", "x", recipes={"cpu": ("isbi2012-cpu",)})
    with pytest.raises(ValueError, match=r"Chapter.stem='ten' must be NN_name"):
        manifest.Chapter("ten", "x")
    with pytest.raises(KeyError, match=r"chapter='06_isbi' is not in book/manifest.py; chapters: 01_architecture"):
        manifest.chapter("06_isbi")
    with pytest.raises(ValueError, match=r"scale='gpu' must be one of \('smoke', 'cpu', 'full'\)"):
        manifest.recipes("06_isbi2012", "gpu")


@pytest.mark.parametrize("stem", manifest.stems())
def test_chapter_says_what_its_manifest_entry_says(stem):
    from unet_core.data.datasets import dataset_names
    from unet_core.recipes.registry import recipe_names

    entry, py = manifest.chapter(stem), BOOK / f"{stem}.py"
    source, nb = py.read_text(), build.paired_notebook(py)
    known = set(recipe_names())
    fetchable = {*dataset_names(), "nuclei"}  # data_scripts/fetch.py's names ("nuclei": the own-images folder)
    assert set(entry.datasets) <= fetchable, f"{stem}: unknown datasets in book/manifest.py"
    assert {n for names in entry.recipes.values() for n in names} <= known, f"{stem}: unregistered recipes"
    first = next(c for c in nb.cells if c.cell_type == "markdown").source
    assert first.startswith(f"({entry.label})="), (
        f"{stem}: its first markdown cell must start with the label ({entry.label})= of book/manifest.py"
    )
    colab = next(c for c in nb.cells if "colab" in c.metadata.get("tags", []))
    assert _colab_datasets(colab.source) == list(entry.datasets), (
        f"{stem}: the Colab cell's DATASETS must be book/manifest.py's datasets {list(entry.datasets)}"
    )
    for scale in manifest.SCALES:
        assert _scale_dict_recipes(source, scale, known) == manifest.recipes(stem, scale), (
            f"{stem} at scale={scale!r}: the recipes its code selects (its dicts keyed by the three scales) must "
            f"be book/manifest.py's {manifest.recipes(stem, scale)}"
        )
    assert _ablation_tables(source) == entry.ablations, (
        f"{stem}: its ablation tables (ablations(BASE, ...), ABLATION_STEPS) must be book/manifest.py's ablations"
    )


def test_vendored_widget_js_is_local_and_matches_the_lockfile():
    sphinx = CONFIG["sphinx"]["config"]
    assert CONFIG["execute"]["execute_notebooks"] == "off"
    for js in sphinx["html_js_files"]:
        assert not js.startswith(("http:", "https:", "//")), js
        assert (BOOK / "_static" / js).is_file(), f"{js} is not vendored under book/_static"
    assert sphinx["nb_ipywidgets_js"] == {}  # never myst-nb's CDN default
    assert (BOOK / "_static" / sphinx["mathjax_path"]).is_file()
    info = json.loads((BOOK / "_static/vendor/VERSIONS.json").read_text())["packages"]
    lock = json.loads((BOOK / "package-lock.json").read_text())["packages"]
    pinned = json.loads((BOOK / "package.json").read_text())["devDependencies"]
    assert set(info) == set(pinned)
    for name, entry in info.items():
        assert lock[f"node_modules/{name}"]["version"] == entry["version"] == pinned[name], (
            f"{name}: run `cd book && npm ci --ignore-scripts && npm run vendor`"
        )
        for f in entry["files"]:
            assert (BOOK / "_static/vendor" / entry["folder"] / f).exists(), f"{name}: {f} not vendored"


def test_postprocess_drops_saved_widget_state_and_hides_injected_parameters(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}})
    nb.cells = [
        nbformat.v4.new_code_cell("SCALE = 'smoke'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("SCALE = 'cpu'", metadata={"tags": ["injected-parameters"]}),
    ]
    nbformat.write(nb, tmp_path / "x.ipynb")
    build.postprocess(tmp_path / "x.ipynb")
    out = nbformat.read(tmp_path / "x.ipynb", as_version=4)
    assert "widgets" not in out.metadata
    assert [c.metadata["tags"] for c in out.cells] == [["parameters"], ["injected-parameters", "remove-cell"]]
    assert out.cells[0].source == "SCALE = 'cpu'  # this run (default: 'smoke')"  # the page shows what ran


def test_results_json_files_are_well_formed():
    for path in sorted((BOOK / "results").glob("*.json")):
        doc = json.loads(path.read_text())
        assert doc["chapter"] == path.stem
        assert set(doc["runs"]) <= {"cpu", "full"}, f"{path.name}: smoke runs are pipeline checks, never committed"
        for run in doc["runs"].values():
            assert {"values", "device", "date", "versions", "notes"} <= set(run)


# --- a tiny book with a slider: real config, real helper, real vendored JS --------------------------

_SLIDER_CELL = """
import numpy as np
from unet_core.book import viz


def colour(a, b):  # a solid colour per combination: red = 60 a, green = 100 b
    img = np.zeros((40, 80, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 60 * a, 100 * b, 200
    return img


viz.parameter_slider(colour, {"a": [1, 2, 3], "b": [0, 1]}, title="colour test")
"""


@pytest.fixture(scope="module")
def tiny_book():
    """A two-page book whose slider page was executed by papermill exactly as book/build.py does."""
    tmp = Path(tempfile.mkdtemp(prefix="unet-tiny-book-"))
    (tmp / "book").mkdir()
    shutil.copy2(ROOT / "_config.yml", tmp / "_config.yml")
    shutil.copytree(BOOK / "_static", tmp / "book" / "_static")
    shutil.copy2(BOOK / "references.bib", tmp / "book" / "references.bib")  # _config.yml's bibtex_bibfiles
    (tmp / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/slider\n")
    (tmp / "book" / "intro.md").write_text("# Tiny book\n\n```{tableofcontents}\n```\n")
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [nbformat.v4.new_markdown_cell("# Slider"), nbformat.v4.new_code_cell(_SLIDER_CELL.strip())]
    nbformat.write(nb, tmp / "source.ipynb")
    status = build.run_notebook(
        tmp / "source.ipynb",
        tmp / "book" / "slider.ipynb",
        {},
        tmp / "papermill.log",
        cwd=tmp,
        results_dir=tmp / "results",
    )
    assert status == 0, (tmp / "papermill.log").read_text()[-3000:]
    status = build.build_html(staging=tmp, output=tmp, quiet=True)
    yield tmp, status
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.slow
def test_tiny_book_builds_with_warnings_as_errors(tiny_book):
    tmp, status = tiny_book
    assert status == 0, "jupyter-book build -W failed (output above)"
    executed = nbformat.read(tmp / "book" / "slider.ipynb", as_version=4)
    assert "widgets" not in executed.metadata  # nbclient's saved kernel widget state, dropped by postprocess
    page = (tmp / "_build/html/book/slider.html").read_text()
    # exactly our text/html snippet: one state and one view tag (not the live view, not nbclient's state)
    assert page.count('type="application/vnd.jupyter.widget-state+json"') == 1
    assert page.count('type="application/vnd.jupyter.widget-view+json"') == 1
    assert re.search(r'<script src="\.\./_static/vendor/html-manager/embed\.js(\?v=[0-9a-f]+)?"></script>', page)
    assert (tmp / "_build/html/_static/vendor/html-manager/embed.js").stat().st_size > 1_000_000


_VISIBLE_PIXEL = """
const imgs = [...document.querySelectorAll('.unet-param-slider img')].filter(i => i.offsetParent !== null
    && i.complete && i.naturalWidth > 0);
if (imgs.length !== 1) return null;
const c = document.createElement('canvas'); c.width = imgs[0].naturalWidth; c.height = imgs[0].naturalHeight;
const ctx = c.getContext('2d'); ctx.drawImage(imgs[0], 0, 0);
return [...ctx.getImageData(5, 5, 1, 1).data.slice(0, 3)];
"""


@pytest.mark.slow
@pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver: run .ci/install-chromium as root",
)
def test_static_slider_changes_the_image_in_headless_chromium(tiny_book):
    tmp, status = tiny_book
    assert status == 0
    html_dir = tmp / "_build" / "html"
    handler = functools.partial(
        type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}),
        directory=str(html_dir),
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = _WebDriver()
    try:
        origin = f"http://127.0.0.1:{server.server_address[1]}"
        driver("POST", "/url", {"url": f"{origin}/book/slider.html"})
        assert driver.wait_js("return document.querySelectorAll('.unet-param-slider .noUi-handle').length") == 2
        time.sleep(0.5)  # a second rendering of the same widget would show up by now
        assert driver.js("return document.querySelectorAll('.noUi-handle').length") == 2
        before = driver.wait_js(_VISIBLE_PIXEL)
        assert before == [60, 0, 200]  # the initial image: a=1, b=0
        handle = list(
            driver("POST", "/element", {"using": "css selector", "value": ".unet-param-slider .noUi-handle"}).values()
        )[0]
        driver("POST", f"/element/{handle}/click", {})
        driver("POST", f"/element/{handle}/value", {"text": "\ue014"})  # ArrowRight: slider a -> 2
        after = driver.wait_js(
            f"const p = (() => {{ {_VISIBLE_PIXEL} }})(); return p && p[0] !== {before[0]} ? p : null"
        )
        assert after == [120, 0, 200]
        shot = base64.b64decode(driver("GET", "/screenshot"))
        assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 2000
        (tmp / "screenshot.png").write_bytes(shot)  # kept while the fixture lives, for debugging
        resources = driver.js("return performance.getEntriesByType('resource').map(e => e.name)")
        assert any(r.endswith("embed.js") or "embed.js?" in r for r in resources)
        assert all(r.startswith(origin) for r in resources), [r for r in resources if not r.startswith(origin)]
    finally:
        driver.close()
        server.shutdown()


MAX_CHAPTER_LINES = 450  # the teaching code stays on the page; plumbing lives in unet_core/book


@pytest.mark.parametrize("chapter", sorted(p.name for p in BOOK.glob("[0-9][0-9]_*.py")))
def test_no_chapter_is_longer_than_the_limit(chapter):
    lines = (BOOK / chapter).read_text().count("\n")
    assert lines <= MAX_CHAPTER_LINES, (
        f"{chapter} has {lines} lines, more than {MAX_CHAPTER_LINES}: move plumbing (tables, figures, "
        "loading, provenance) into unet_core/book and keep the paper's mechanism on the page"
    )


def test_code_share_counts_only_visible_code_and_calls_the_books_helpers_plumbing():
    spec = importlib.util.spec_from_file_location("code_share", BOOK / "scripts" / "code_share.py")
    code_share = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(code_share)
    text = "\n".join([
        "# %% [markdown]", "# text, not code",
        "# %%", "import unet_core as uc", "net = uc.UNet()", "# a comment", "", "y = net(x)",
        '# %% tags=["hide-input"]', "viz.record_results('x', {})",
        "# %%", "viz.record_results('x', {})", "fig, ax = plt.subplots()",
    ])  # fmt: skip
    assert code_share.share(text) == {"visible": 5, "plumbing": 3, "teaching": 2}
