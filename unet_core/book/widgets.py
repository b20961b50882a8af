"""Parameter sliders that work live in a kernel *and* in the static book.

:func:`parameter_slider` renders a figure for every combination of a few
parameter values (e.g. the weight map's ``sigma`` x ``w0``, Fig. 3) once.
Displaying the result emits one output with two representations:

* ``application/vnd.jupyter.widget-view+json``: a kernel-backed ipywidgets
  view (sliders + image) that Jupyter, JupyterLab, VS Code and Colab render;
* ``text/html``: the embedded state of a kernel-free twin of it (a
  ``SelectionSlider`` per parameter, ``jslink``-ed to the ``selected_index``
  of nested ``Stack`` widgets of the precomputed PNGs), which the vendored
  ``@jupyter-widgets/html-manager`` (``book/_static/vendor``) renders in the
  published HTML with no kernel. The book's ``_config.yml`` ranks ``text/html``
  above the widget view so the static site picks it.

Not re-exported by ``unet_core`` (which needs no ipywidgets); use ``from unet_core import viz``.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from ..utils.validation import fmt

__all__ = ['ParameterSlider', 'parameter_slider', 'to_png']


_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


_STATE_MIME = "application/vnd.jupyter.widget-state+json"


def to_png(image: Any, dpi: int = 80) -> bytes:
    """Encode a matplotlib figure or an image array as PNG bytes.

    Parameters
    ----------
    image : matplotlib Figure, (H, W) or (H, W, 3|4) ndarray
        Arrays of dtype uint8 are used as they are; float arrays must lie in [0, 1].
        A figure is closed after saving so that it is not displayed a second time.
    dpi : int
        Resolution for figures.

    Returns
    -------
    bytes
        The PNG file.

    Raises
    ------
    TypeError
        If ``image`` is neither a figure nor an array.
    ValueError
        If the array has the wrong shape or float values outside [0, 1].

    Examples
    --------
    >>> to_png(np.zeros((4, 4), np.uint8))[:4]
    b'\\x89PNG'
    """

    if hasattr(image, "savefig"):
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        image.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(image)
        return buf.getvalue()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a matplotlib Figure or a numpy array, got {type(image).__name__}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"image must have shape (H, W) or (H, W, 3|4), got {fmt(image)}")
    if image.dtype != np.uint8:
        arr = np.asarray(image, dtype=np.float64)
        if not (np.isfinite(arr).all() and arr.min() >= 0.0 and arr.max() <= 1.0):
            raise ValueError(
                f"float image values must lie in [0, 1], got range [{arr.min()}, {arr.max()}]; rescale it or pass uint8"
            )
        image = np.round(arr * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


class ParameterSlider:
    """Precomputed images over a parameter grid, displayable live and statically.

    Build it with :func:`parameter_slider`. Displaying it (last expression of a
    cell, or ``display(obj)``) emits the live widget and the static HTML.

    Attributes
    ----------
    names : list of str
        Parameter names, one slider each, in the order given.
    values : dict of str -> list
        The grid values of each parameter.
    images : dict of tuple -> bytes
        PNG per combination of value *indices* (``images[(i_sigma, i_w0)]``).
    initial : tuple of int
        The value indices shown first.
    alt : str
        Alt text of the images (what they show).
    """

    def __init__(self, names, values, images, initial, labels, title, alt=None):
        self.names, self.values, self.images = names, values, images
        self.initial, self.labels, self.title = initial, labels, title
        self.alt = alt or title or "figure"
        self._live = None

    def _sliders(self, widgets, continuous: bool) -> list:
        # 420 px wide, but never wider than the page: on a phone the track shrinks and the readout
        # (right of the track) stays on the screen
        return [
            widgets.SelectionSlider(
                options=[(lab, i) for i, lab in enumerate(self.labels[name])],
                value=self.initial[k],
                description=name,
                continuous_update=continuous,
                layout=widgets.Layout(width="420px", max_width="100%"),
            )
            for k, name in enumerate(self.names)
        ]

    def _header(self, widgets) -> list:
        return [widgets.HTML(f"<b>{html.escape(self.title)}</b>")] if self.title else []

    def widget(self):
        """Kernel-backed ipywidgets view: the sliders pick the precomputed PNG (ipywidgets 7 or 8)."""
        if self._live is None:
            import ipywidgets as widgets

            sliders = self._sliders(widgets, continuous=True)
            image = widgets.Image(value=self.images[self.initial], format="png")

            def update(_change=None):
                image.value = self.images[tuple(s.value for s in sliders)]

            for s in sliders:
                s.observe(update, names="value")
            self._live = widgets.VBox([*self._header(widgets), *sliders, image])
        return self._live

    def static_widget(self):
        """Kernel-free twin: sliders ``jslink``-ed to nested ``Stack`` widgets (ipywidgets >= 8).

        Returns
        -------
        root : ipywidgets.VBox
        links : list of ipywidgets.Link
            Not children of ``root``; their state must be embedded too.
        """
        import ipywidgets as widgets

        if not hasattr(widgets, "Stack"):
            raise RuntimeError(f"the static slider needs ipywidgets >= 8 (Stack), found {widgets.__version__}")
        sliders = self._sliders(widgets, continuous=True)
        links = []

        def build(level: int, prefix: tuple):
            n = len(self.values[self.names[level]])
            if level == len(self.names) - 1:
                children = [widgets.Image(value=self.images[prefix + (i,)], format="png") for i in range(n)]
            else:
                children = [build(level + 1, prefix + (i,)) for i in range(n)]
            stack = widgets.Stack(children=children, selected_index=self.initial[level])
            links.append(widgets.jslink((sliders[level], "index"), (stack, "selected_index")))
            return stack

        root = widgets.VBox([*self._header(widgets), *sliders, build(0, ())])
        return root, links

    def to_html(self) -> str:
        """The static snippet: widget-state and widget-view script tags, plus a no-script image.

        The vendored html-manager (``embed.js``) renders every such pair on page load; the book's
        ``unet.js`` gives the ``data-alt`` text of the container to the images it draws.
        """
        png = base64.b64encode(self.images[self.initial]).decode("ascii")
        alt = html.escape(self.alt)
        fallback = f'<noscript><img alt="{alt}" src="data:image/png;base64,{png}"/></noscript>'
        try:
            root, links = self.static_widget()
        except RuntimeError:
            return fallback.replace("<noscript>", "").replace("</noscript>", "")
        from ipywidgets.embed import dependency_state

        try:
            state = dependency_state([root, *links], drop_defaults=True)
            state_doc = {"version_major": 2, "version_minor": 0, "state": state}
            view = {"version_major": 2, "version_minor": 0, "model_id": root.model_id}
        finally:
            for w in [*links, *_descendants(root)]:
                w.close()
        esc = lambda obj: json.dumps(obj).replace("</", "<\\/")  # noqa: E731
        return (
            f'<div class="unet-param-slider" data-alt="{alt}">{fallback}'
            f'<script type="{_STATE_MIME}">{esc(state_doc)}</script>'
            f'<script type="{_VIEW_MIME}">{esc(view)}</script></div>'
        )

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        live = self.widget()
        return {
            "text/plain": repr(self),
            "text/html": self.to_html(),
            _VIEW_MIME: {"version_major": 2, "version_minor": 0, "model_id": live.model_id},
        }

    def __repr__(self) -> str:
        grid = " x ".join(f"{n}[{len(self.values[n])}]" for n in self.names)
        return f"ParameterSlider({grid}, {len(self.images)} images)"


def _descendants(widget) -> list:
    out = [widget]
    for child in getattr(widget, "children", ()):
        out.extend(_descendants(child))
    return out


def parameter_slider(
    render: Callable[..., Any],
    params: Mapping[str, Sequence[Any]],
    *,
    initial: Mapping[str, Any] | None = None,
    title: str | None = None,
    dpi: int = 80,
    max_images: int = 64,
    label: Callable[[Any], str] = str,
    alt: str | None = None,
) -> ParameterSlider:
    """Precompute ``render(**combo)`` on a grid and return a slider over the results.

    Parameters
    ----------
    render : callable
        ``render(**{name: value})`` -> matplotlib Figure or image array (see :func:`to_png`).
        Called once per combination; keep figures small (a few hundred pixels), since every
        PNG is embedded in the page.
    params : dict of str -> sequence
        Parameter name -> the values a slider offers (at least one each).
    initial : dict of str -> value, optional
        Values shown first (must be among the grid values); default: the first of each.
    title : str, optional
        Bold line above the sliders.
    dpi : int
        Resolution for figures.
    max_images : int
        Refuse grids larger than this (page size grows with every image).
    label : callable
        Value -> slider label.
    alt : str, optional
        Alt text of the images: what they show (default: ``title``). Screen readers and the static
        book's checks read it; make it say what the figure shows, not a file name.

    Returns
    -------
    ParameterSlider
        Display it (last line of a cell): live in a kernel, pure HTML/JS in the static book.

    Raises
    ------
    ValueError
        If ``params`` is empty, a value list is empty, the grid exceeds ``max_images``, an
        ``initial`` value is not in the grid or ``alt`` is empty.
    TypeError
        If ``render`` is not callable or ``alt`` is not a string.

    Examples
    --------
    >>> import numpy as np
    >>> def render(sigma, w0):
    ...     x = np.linspace(-1, 1, 32)
    ...     return np.clip(w0 / 20 * np.exp(-x[None, :] ** 2 / (2 * (sigma / 10) ** 2)), 0, 1) * np.ones((32, 1))
    >>> s = parameter_slider(render, {"sigma": [2.5, 5.0, 10.0], "w0": [5, 10]}, initial={"sigma": 5.0, "w0": 10})
    >>> s, s.initial
    (ParameterSlider(sigma[3] x w0[2], 6 images), (1, 1))
    """
    if not callable(render):
        raise TypeError(f"render must be callable (**params) -> Figure or array, got {type(render).__name__}")
    if not isinstance(params, Mapping) or not params:
        raise ValueError(f"params must be a non-empty dict of name -> list of values, got {fmt(params)}")
    if alt is not None and not isinstance(alt, str):
        raise TypeError(f"alt must be a string saying what the images show, got {type(alt).__name__}")
    if alt is not None and not alt.strip():
        raise ValueError("alt must say what the images show, got an empty string; leave it out to use the title")
    names = [str(n) for n in params]
    values = {n: list(params[n]) for n in names}
    for n, vals in values.items():
        if not vals:
            raise ValueError(f"params[{n!r}] must list at least one value, got an empty sequence")
    total = int(np.prod([len(v) for v in values.values()]))
    if total > max_images:
        raise ValueError(
            f"params give {total} images, more than max_images={max_images}; use fewer values or raise max_images"
        )
    initial = dict(initial or {})
    unknown = set(initial) - set(names)
    if unknown:
        raise ValueError(f"initial names {sorted(unknown)} are not parameters; parameters are {names}")
    start = []
    for n in names:
        if n in initial:
            if initial[n] not in values[n]:
                raise ValueError(f"initial[{n!r}]={fmt(initial[n])} is not among the grid values {values[n]}")
            start.append(values[n].index(initial[n]))
        else:
            start.append(0)
    images = {}
    for combo in itertools.product(*(range(len(values[n])) for n in names)):
        images[combo] = to_png(render(**{n: values[n][i] for n, i in zip(names, combo)}), dpi=dpi)
    labels = {n: [label(v) for v in values[n]] for n in names}
    return ParameterSlider(names, values, images, tuple(start), labels, title, alt)
