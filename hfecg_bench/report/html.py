"""Self-contained HTML pages: Jinja2 templates (package data in ``report/templates``, autoescaped) with every
figure embedded as a base64 PNG data URI, so a page opens from disk with no network and no side files.

:func:`hfecg_bench.report.render.render_report` writes a run's ``report.html`` (its content from
:mod:`.sections`); :mod:`.cohort_html` writes the page of ``data describe --html``.

Examples
--------
>>> from matplotlib.figure import Figure
>>> fig = Figure(figsize=(2, 1)); _ = fig.subplots().plot([0, 1], [0, 1])
>>> f = embed(fig, "demo", "a line", caption="x against y")
>>> f.uri.startswith("data:image/png;base64,"), f.key
(True, 'demo')
>>> page = render_page("report.html.j2", **{"cohort": {"dataset": "<b>x</b>"}, "sections": [], "verdict": None,
...                    "leaderboard": {"header": [], "rows": [], "text_cols": 0}, "roc": f, "calibration": f,
...                    "hf": {}, "importance": None, "training": [], "patients": {"models": [], "rows": []}})
>>> "&lt;b&gt;x&lt;/b&gt;" in page, "<b>x</b>" in page        # autoescaped
(True, False)
"""
from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from hfecg_bench.io import write_atomic

REPORT_FILE = "report.html"
#: Resolution of embedded figures: sharp on screen, a few hundred kB per page.
DPI = 96


@dataclass(frozen=True)
class EmbeddedFigure:
    """A figure ready for a page: ``key`` (anchor), ``uri`` (data URI of the PNG), ``alt`` and ``caption`` text."""

    key: str
    uri: str
    alt: str
    caption: str = ""


def embed(fig, key: str, alt: str, caption: str = "") -> EmbeddedFigure:
    """Render a matplotlib Figure to a PNG data URI (layout tightened first)."""
    buf = io.BytesIO()
    try:
        fig.tight_layout()
    except (ValueError, RuntimeError):      # a layout that cannot be tightened still renders
        pass
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return EmbeddedFigure(key=key, uri="data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"),
                          alt=alt, caption=caption)


def fmt_num(x, digits: int = 3) -> str:
    """A number for a table cell: ``digits`` decimals, an en dash for missing or non-finite values."""
    if x is None or isinstance(x, str):
        return "–" if x is None else x
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "–" if not math.isfinite(v) else f"{v:.{digits}f}"


def fmt_p(x) -> str:
    """A p-value for reading: ``<0.001`` below a thousandth, three significant digits otherwise."""
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "–"
    return "<0.001" if x < 0.001 else f"{x:.3g}"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("hfecg_bench.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=fmt_num, pval=fmt_p)
    return env


def render_page(template: str, **context) -> str:
    """Render one of the package's templates with ``context``."""
    return _environment().get_template(template).render(**context)


def write_page(path: Path, template: str, **context) -> Path:
    """Render ``template`` and write it to ``path`` atomically (UTF-8)."""
    return write_atomic(Path(path), render_page(template, **context))


__all__ = ["DPI", "REPORT_FILE", "EmbeddedFigure", "embed", "fmt_num", "fmt_p", "render_page", "write_page"]
