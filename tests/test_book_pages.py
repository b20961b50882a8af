"""The whole book at smoke scale, built once, then every page of it in headless Chromium.

A session fixture runs ``book/build.py --scale smoke --jobs 2 --out <tmp>``: the one execution of
the chapters in a test run (``UNET_DATA_DIR`` is passed on when set; chapters that need real data
fall back to synthetic data without it). Then:

* the build: the tree is unchanged by it (``git status --porcelain`` before and after), every
  chapter's papermill run passed (one test per chapter, with the tail of its log on failure), and
  ``jupyter-book build -W`` passed; where the build found real data, the chapters are executed once
  more without it (``--data-dir`` an empty folder), so that both branches of each chapter run;
* every page listed in ``_toc.yml``, served on 127.0.0.1, at a 1280x900 desktop window and on an
  emulated 375 px wide phone: no console error or warning, no failed request, nothing loaded from
  anywhere but 127.0.0.1, nothing wider than the screen unless inside a container that scrolls
  sideways (equations, tables, code), nothing clipped, every static slider rendered with its
  readout on the screen;
* at desktop: every image in the article has alt text that says something (not a file name), every
  figure is a numbered ``<figure>`` (``Fig. N`` or ``Fig. C.N``) drawn at its natural size (>= 95 %, and no wider
  than the text column), and the references page lists the bibliography.

Everything is slow (the build takes minutes); the browser tests skip without chromium/chromedriver.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _book import git_status, load_build  # noqa: E402  (tests/ is on sys.path)
from _webdriver import HAVE_CHROMIUM, NO_CHROMIUM, StaticServer, _WebDriver

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"

pytestmark = pytest.mark.slow
needs_chromium = pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)


build = load_build()
PAGES = build.toc_files()  # "book/intro", "book/01_architecture", ...
CHAPTERS = [Path(p).name for p in PAGES if (ROOT / f"{p}.ipynb").exists()]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 812, "mobile": True}}
PAGE_IDS = [Path(p).name for p in PAGES]


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # sphinx colours its log


# --- the build ----------------------------------------------------------------------------------------


class BookBuild:
    """What one run of ``book/build.py --scale smoke`` produced."""

    LINE = re.compile(r"^(ok  |FAIL) (\S+)\s+([0-9.]+) s", re.M)

    def __init__(self, out: Path, returncode: int, output: str, before: str | None, after: str | None, seconds: float):
        self.out, self.returncode, self.output, self.seconds = out, returncode, output, seconds
        self.before, self.after = before, after
        self.html = out / "_build" / "html"
        self.logs = out / "_build" / "logs"
        self.chapters = {m.group(2): m.group(1).strip() == "ok" for m in self.LINE.finditer(output)}


@pytest.fixture(scope="session")
def book_build(tmp_path_factory) -> BookBuild:
    out = tmp_path_factory.mktemp("book-build")
    before = git_status()
    start = time.perf_counter()
    cmd = [sys.executable, str(BOOK / "build.py"), "--scale", "smoke", "--jobs", "2", "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=3600)
    output = _ANSI.sub("", done.stdout + done.stderr)
    return BookBuild(out, done.returncode, output, before, git_status(), time.perf_counter() - start)


def _has_real_data() -> bool:
    """Whether the smoke build above finds real data (as build.py's DATA_DIR default does)."""
    return bool(os.environ.get("UNET_DATA_DIR")) or (ROOT / "data").is_dir()


@pytest.fixture(scope="session")
def build_without_data(book_build, tmp_path_factory) -> BookBuild:
    """The chapters executed once more where no real data is (as on a fresh clone): their synthetic branch.

    Without real data the build above already took that branch and is returned as it is.
    """
    if not _has_real_data():
        return book_build
    out, empty = tmp_path_factory.mktemp("book-no-data"), tmp_path_factory.mktemp("no-data")
    env = {k: v for k, v in os.environ.items() if k != "UNET_DATA_DIR"}
    cmd = [sys.executable, str(BOOK / "build.py"), "--scale", "smoke", "--jobs", "2", "--no-html", "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(
        cmd + ["--data-dir", str(empty)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600
    )
    output = _ANSI.sub("", done.stdout + done.stderr)
    return BookBuild(out, done.returncode, output, None, None, time.perf_counter() - start)


def test_build_leaves_the_tree_unchanged(book_build):
    if book_build.before is None:
        pytest.skip("not a git checkout")
    before, after = set(book_build.before.splitlines()), set(book_build.after.splitlines())
    assert book_build.after == book_build.before, (
        "book/build.py --scale smoke --out <tmp> changed the working tree (git status --porcelain):\n"
        + "\n".join(
            [f"  before only: {line}" for line in sorted(before - after)]
            + [f"  after only:  {line}" for line in sorted(after - before)]
        )
    )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_builds(book_build, chapter):
    if chapter not in book_build.chapters:
        pytest.fail(f"{chapter} was not executed; build output:\n{_tail(book_build.output)}")
    log = book_build.logs / f"{chapter}.log"
    assert book_build.chapters[chapter], (
        f"papermill failed on {chapter}; tail of {log}:\n{_tail(log.read_text()) if log.exists() else '(no log)'}"
    )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_builds_without_the_real_data(build_without_data, chapter):
    built = build_without_data
    if chapter not in built.chapters:
        pytest.fail(f"{chapter} was not executed without real data; build output:\n{_tail(built.output)}")
    log = built.logs / f"{chapter}.log"
    assert built.chapters[chapter], (
        f"papermill failed on {chapter} without real data (its synthetic stand-in); tail of {log}:\n"
        f"{_tail(log.read_text()) if log.exists() else '(no log)'}"
    )


def test_html_builds_with_warnings_as_errors(book_build):
    warnings = [line for line in book_build.output.splitlines() if "WARNING" in line or "ERROR" in line]
    assert book_build.returncode == 0 and "built: " in book_build.output, (
        f"book/build.py exited with {book_build.returncode}; warnings/errors:\n"
        + "\n".join(warnings[:40])
        + f"\n--- output tail:\n{_tail(book_build.output, 30)}"
    )


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_toc_page_was_built(book_build, page):
    assert (book_build.html / f"{page}.html").is_file(), f"{page}.html missing; output:\n{_tail(book_build.output)}"


# --- the pages in the browser ----------------------------------------------------------------------

# Wait until the page is done: loaded, MathJax has typeset, every static slider is drawn with its
# image, fonts and images are in. Lazy images are loaded now so that they can be measured.
_SETTLE = r"""
const done = arguments[arguments.length - 1];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  if (document.readyState !== 'complete') await new Promise((r) => addEventListener('load', r, {once: true}));
  const mathjax = async () => { const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) { try { await mj.startup.promise; } catch (e) {} } };
  await mathjax();
  for (const start = performance.now(); performance.now() - start < 20000; await sleep(100)) {
    const roots = [...document.querySelectorAll('.unet-param-slider')];
    if (roots.every((r) => r.querySelector('.widget-slider')
        && [...r.querySelectorAll('img')].some((i) => i.offsetParent && i.complete && i.naturalWidth > 0))) break;
  }
  await mathjax();
  for (const img of document.images) img.loading = 'eager';
  await Promise.all([...document.images].map((i) => i.complete ? 0 : new Promise((r) => { i.onload = i.onerror = r; })));
  await document.fonts.ready;
  await sleep(300);
  done(true);
})().catch((e) => done(String(e)));
"""

# Everything the tests check, measured in one pass.
_MEASURE = r"""
const vw = document.documentElement.clientWidth, TOL = 1;
const desc = (el) => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  if (typeof el.className === 'string' && el.className.trim()) s += '.' + el.className.trim().split(/\s+/).slice(0, 2).join('.');
  return s;
};
const where = (el) => { const p = []; for (let e = el; e && e !== document.body; e = e.parentElement) p.unshift(desc(e)); return p.slice(-3).join(' > '); };
const text = (el) => (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 50);
const px = (r) => `[${Math.round(r.left)}, ${Math.round(r.right)}]`;
const overflowX = (el) => getComputedStyle(el).overflowX;
const hidden = (el) => el.closest('mjx-assistive-mml, .sr-only, .visually-hidden, script, style, noscript, template, dialog:not([open])');

// 1. layout: each element must fit its nearest clipping box (overflow hidden/clip); scroll
//    containers may hold wider content (they are checked as elements themselves); without either,
//    it must fit the viewport. Only the outermost offender of a subtree is reported.
const layout = [], reported = [];
for (const el of document.body.querySelectorAll('*')) {
  if (hidden(el) || !el.checkVisibility({checkVisibilityCSS: true})) continue;
  const r = el.getBoundingClientRect();
  if (r.width < 1 || r.height < 1 || reported.some((p) => p.contains(el))) continue;
  let why = null, a = el.parentElement;
  for (; a && a !== document.documentElement; a = a.parentElement) {
    const o = overflowX(a);
    if (o === 'auto' || o === 'scroll') break;
    if (o === 'hidden' || o === 'clip') {
      const ar = a.getBoundingClientRect();
      if (r.left < ar.left - TOL || r.right > ar.right + TOL) why = `clipped by ${where(a)} ${px(ar)}`;
      break;
    }
  }
  if (!why && (!a || a === document.documentElement) && (r.left < -TOL || r.right > vw + TOL)) why = `wider than the ${vw} px screen`;
  if (why) { reported.push(el); layout.push(`${where(el)} ${px(r)} ${why}: "${text(el)}"`); }
}

// 2. static sliders: drawn, and each readout on the screen, not clipped by any box (scrolling
//    included: a reader must see it without scrolling sideways), its text not cut.
const sliders = [...document.querySelectorAll('.unet-param-slider')];
const slider = {count: sliders.length, rendered: sliders.filter((s) => s.querySelector('.widget-slider')).length, problems: []};
for (const s of sliders) for (const w of s.querySelectorAll('.widget-slider')) {
  const ro = w.querySelector('.widget-readout'), name = text(w.querySelector('.widget-label') || w);
  if (!ro || !ro.checkVisibility({checkVisibilityCSS: true})) { slider.problems.push(`slider "${name}": no visible readout`); continue; }
  const r = ro.getBoundingClientRect();
  if (r.left < -TOL || r.right > vw + TOL) slider.problems.push(`slider "${name}": readout ${px(r)} is off the ${vw} px screen`);
  for (let a = ro.parentElement; a && a !== document.documentElement; a = a.parentElement) {
    if (overflowX(a) === 'visible') continue;
    const ar = a.getBoundingClientRect();
    if (r.left < ar.left - TOL || r.right > ar.right + TOL) {
      slider.problems.push(`slider "${name}": readout ${px(r)} cut off by ${where(a)} ${px(ar)} (overflow-x: ${overflowX(a)})`); break; }
  }
  if (ro.scrollWidth > ro.clientWidth + TOL) slider.problems.push(`slider "${name}": readout text "${text(ro)}" is cut (${ro.scrollWidth} > ${ro.clientWidth} px)`);
}

// 3. images of the article
const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const cs = getComputedStyle(article);
const column = article.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
const images = [...article.querySelectorAll('img')].map((img) => {
  const fig = img.closest('figure'), num = fig && fig.querySelector('figcaption .caption-number');
  const box = img.parentElement, bs = getComputedStyle(box);  // the width the image may take (max-width: 100%)
  return {src: img.getAttribute('src').slice(0, 120), alt: img.getAttribute('alt'),
          slider: !!img.closest('.unet-param-slider'),
          asset: /(^|\/)_static\//.test(img.getAttribute('src') || '') || !!img.closest('a'),  // theme icons, linked badges
          visible: img.checkVisibility({checkVisibilityCSS: true}),
          figure: !!fig, caption: fig ? text(fig.querySelector('figcaption') || fig).slice(0, 50) : null,
          number: num ? num.textContent.trim() : null,
          natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
          room: box.clientWidth - parseFloat(bs.paddingLeft) - parseFloat(bs.paddingRight)};
});

// 4. bibliography entries (sphinxcontrib-bibtex)
const citations = [...article.querySelectorAll('.citation')].map((c) => text(c));

return {vw, column, layout, slider, images, citations, title: document.title};
"""

_PROBLEM_LEVELS = {"SEVERE", "WARNING"}


class PageVisits:
    """Every toc page opened once per viewport (lazily, all pages in a row), its measurements kept."""

    def __init__(self, html: Path):
        self.html, self.server, self._visits = html, None, {}

    def __call__(self, viewport: str, page: str) -> dict:
        if viewport not in self._visits:
            self._visits[viewport] = self._visit_all(viewport)
        return self._visits[viewport][page]

    def _visit_all(self, viewport: str) -> dict[str, dict]:
        if self.server is None:
            self.server = StaticServer(self.html)
        origin, records, prev = self.server.origin, {}, None
        driver = _WebDriver(logs=True, **VIEWPORTS[viewport])
        try:
            for page in [*PAGES, None]:
                late_console, late_requests = driver.log("browser"), driver.network()
                if prev is not None:  # what arrived after the previous page had settled belongs to it
                    prev["console"] += [e for e in late_console if e["level"] in _PROBLEM_LEVELS]
                    prev["requests"] += [r for r in late_requests if r["error"] != "net::ERR_ABORTED"]
                    prev["server"] += list(self.server.requests)
                if page is None:
                    break
                self.server.requests.clear()
                rec = {"url": f"{origin}/{page}.html", "console": [], "requests": [], "server": [], "error": None}
                try:
                    driver("POST", "/url", {"url": rec["url"]})
                    settled = driver.js_async(_SETTLE)
                    if settled is not True:
                        rec["error"] = f"page did not settle: {settled}"
                    rec.update(driver.js(_MEASURE))
                except Exception as exc:  # noqa: BLE001 - reported by every test of this page
                    rec["error"] = f"{type(exc).__name__}: {exc}"
                rec["console"] = [e for e in driver.log("browser") if e["level"] in _PROBLEM_LEVELS]
                rec["requests"] = driver.network()
                rec["server"] = list(self.server.requests)
                records[page] = prev = rec
            driver("POST", "/url", {"url": "about:blank"})
        finally:
            driver.close()
        return records

    def close(self):
        if self.server is not None:
            self.server.close()


@pytest.fixture(scope="session")
def visits(book_build):
    if not book_build.html.is_dir():
        pytest.fail(f"the build produced no HTML; output:\n{_tail(book_build.output)}")
    pages = PageVisits(book_build.html)
    yield pages
    pages.close()


def _page(visits, book_build, viewport: str, page: str) -> dict:
    if not (book_build.html / f"{page}.html").is_file():
        pytest.fail(f"{page}.html was not built")
    rec = visits(viewport, page)
    assert rec["error"] is None, f"{rec['url']} ({viewport}): {rec['error']}"
    return rec


BOTH = [pytest.param(v, p, id=f"{v}-{Path(p).name}") for v in VIEWPORTS for p in PAGES]
DESKTOP = [pytest.param("desktop", p, id=Path(p).name) for p in PAGES]


@needs_chromium
@pytest.mark.parametrize("viewport, page", BOTH)
def test_console_has_no_errors_or_warnings(visits, book_build, viewport, page):
    rec = _page(visits, book_build, viewport, page)
    assert not rec["console"], f"{rec['url']} ({viewport}) console:\n" + "\n".join(
        f"  {e['level']}: {e['message']}" for e in rec["console"]
    )


@needs_chromium
@pytest.mark.parametrize("viewport, page", BOTH)
def test_every_request_succeeds_from_127_0_0_1(visits, book_build, viewport, page):
    rec = _page(visits, book_build, viewport, page)
    origin = rec["url"].split("/book/")[0] + "/"
    failed = [
        f"  {r['url']}: {r['error'] or r['status']}" for r in rec["requests"] if r["error"] or (r["status"] or 0) >= 400
    ]
    failed += [f"  {path}: HTTP {status} (server)" for path, status in rec["server"] if status >= 400]
    foreign = [f"  {r['url']}" for r in rec["requests"] if not r["url"].startswith(origin)]
    assert any(r["url"] == rec["url"] for r in rec["requests"]), "the page request itself was not seen"
    assert not failed and not foreign, (
        f"{rec['url']} ({viewport}):\nfailed requests:\n"
        + "\n".join(failed)
        + f"\nnot from {origin}:\n"
        + "\n".join(foreign)
    )


@needs_chromium
@pytest.mark.parametrize("viewport, page", BOTH)
def test_nothing_is_clipped_or_wider_than_the_screen(visits, book_build, viewport, page):
    rec = _page(visits, book_build, viewport, page)
    assert not rec["layout"], (
        f"{rec['url']} ({viewport}, {rec['vw']} px): elements clipped or wider than the "
        "screen outside a horizontally scrolling box:\n  " + "\n  ".join(rec["layout"])
    )


@needs_chromium
@pytest.mark.parametrize("viewport, page", BOTH)
def test_static_sliders_render_with_their_readout_on_screen(visits, book_build, viewport, page):
    rec = _page(visits, book_build, viewport, page)
    s = rec["slider"]
    assert s["rendered"] == s["count"], (
        f"{rec['url']} ({viewport}): {s['count'] - s['rendered']} of {s['count']} sliders not drawn"
    )
    assert not s["problems"], f"{rec['url']} ({viewport}, {rec['vw']} px):\n  " + "\n  ".join(s["problems"])


_FILE_LIKE = re.compile(r"(^|[\\/])[^\s\\/]*\.(png|jpe?g|gif|svg|webp|pdf|tiff?)$|^[^\s]*[\\/][^\s]*$", re.I)
_GENERIC = {"image", "figure", "img", "picture", "plot", "output", "png", "graph", "chart"}


def _figures(rec) -> list[dict]:
    """The chapter's figure images: not the theme's assets or linked badges (Open in Colab), not slider frames."""
    return [i for i in rec["images"] if not i["asset"] and not i["slider"]]


@needs_chromium
@pytest.mark.parametrize("viewport, page", DESKTOP)
def test_images_have_alt_text_that_is_not_a_file_name(visits, book_build, viewport, page):
    rec = _page(visits, book_build, viewport, page)
    bad = [
        f"  {i['src']}: alt={i['alt']!r}"
        for i in rec["images"]
        if not (i["alt"] or "").strip() or _FILE_LIKE.search(i["alt"].strip()) or i["alt"].strip().lower() in _GENERIC
    ]
    assert not bad, (
        f"{rec['url']}: images without alt text that says what they show (give the cell "
        "`mystnb: image: alt: ...` metadata, or parameter_slider(alt=...)):\n" + "\n".join(bad)
    )


@needs_chromium
@pytest.mark.parametrize("viewport, page", DESKTOP)
def test_figures_are_numbered_and_captioned(visits, book_build, viewport, page):
    rec = _page(visits, book_build, viewport, page)
    bad = [
        f"  {i['src']}: "
        + ("not inside a <figure>" if not i["figure"] else f"caption {i['caption']!r} has no 'Fig. N'")
        for i in _figures(rec)
        if not (i["figure"] and re.fullmatch(r"Fig\.\s*\d+(\.\d+)*\.?", i["number"] or ""))
    ]
    assert not bad, (
        f"{rec['url']}: figures without a numbered caption (give the cell `mystnb: figure: "
        "caption: ..., name: ...` metadata):\n" + "\n".join(bad)
    )


@needs_chromium
@pytest.mark.parametrize("viewport, page", DESKTOP)
def test_figures_are_drawn_at_their_natural_width_within_the_column(visits, book_build, viewport, page):
    rec = _page(visits, book_build, viewport, page)
    column, bad = rec["column"], []
    for i in _figures(rec):
        room = min(i["room"], column)
        if not i["natural"]:
            bad.append(f"  {i['src']}: did not load")
        elif i["natural"] > room + 1:
            bad.append(
                f"  {i['src']}: {i['natural']} px wide, more than the {room:.0f} px it may take in the "
                f"{column:.0f} px text column (shown at {i['shown']:.0f} px): draw it at most {room:.0f} px wide"
            )
        elif i["shown"] < 0.95 * i["natural"]:
            bad.append(
                f"  {i['src']}: shown at {i['shown']:.0f} px, {i['shown'] / i['natural']:.0%} of its "
                f"natural {i['natural']} px"
            )
    assert not bad, f"{rec['url']} (text column {column:.0f} px):\n" + "\n".join(bad)


def _bib_entries() -> list[str]:
    text = "\n".join(p.read_text() for p in sorted(BOOK.glob("*.bib")))
    return [
        k
        for kind, k in re.findall(r"^\s*@(\w+)\s*\{\s*([^,\s]+)\s*,", text, re.M)
        if kind.lower() not in {"comment", "string", "preamble"}
    ]


@needs_chromium
def test_references_page_lists_the_bibliography(visits, book_build):
    page = "book/references"
    assert page in PAGES, "_toc.yml lists no book/references page"
    rec = _page(visits, book_build, "desktop", page)
    entries, keys = rec["citations"], _bib_entries()
    assert keys, "book/*.bib holds no entries"
    assert entries and all(len(e) > 20 for e in entries), f"{rec['url']} lists no bibliography entries: {entries}"
    if ":all:" in (BOOK / "references.md").read_text():
        assert len(entries) == len(keys), (
            f"{rec['url']} lists {len(entries)} entries, book/*.bib has {len(keys)}: {keys}"
        )
