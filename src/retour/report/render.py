"""Turn a template and its context into HTML, and the same HTML into PDF with WeasyPrint.

One rendering path: Jinja2 fills `templates/*.html` (the stylesheet is inlined, charts and maps are
inline SVG, so an HTML file stands alone); WeasyPrint lays that HTML out on A4 pages. The font
configuration and the parsed stylesheet are made once per process and reused. A fact sheet must fit
two pages: when it does not, it is laid out again more densely (smaller type; then fewer actors
and shorter recommendation boxes; see the `density-*` rules of style.css and factsheet.html).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from retour.report.i18n import Formatter

TEMPLATES = Path(__file__).parent / "templates"
DENSITIES = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class Rendered:
    """A rendered document: its HTML, and (when asked for) its PDF, page count, and the HTML the PDF
    was laid out from (the same template at the `density` that fitted)."""

    html: str
    pdf: bytes | None = None
    pages: int | None = None
    density: int = 0
    pdf_html: str | None = None


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment over the package's templates (autoescaped, strict about undefined names)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def stylesheet() -> str:
    return (TEMPLATES / "style.css").read_text(encoding="utf-8")


def render_html(template: str, context: dict[str, Any], fmt: Formatter, density: int = 0) -> str:
    """HTML of a template in one language; `_` in templates is the language's translation."""
    return (
        environment()
        .get_template(template)
        .render(**context, _=fmt._, fmt=fmt, lang=fmt.language, css=stylesheet(), density=density)
    )


@cache
def _font_config() -> Any:
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@cache
def _parsed_stylesheet() -> Any:
    from weasyprint import CSS

    return CSS(string=stylesheet(), base_url=str(TEMPLATES), font_config=_font_config())


_STYLE = re.compile(r"<style>.*?</style>", re.S)
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def _svg_image(match: re.Match[str]) -> str:
    svg = match.group(0)
    if "xmlns=" not in svg[:200]:
        svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    return (
        f'<img class="svg" alt="" src="data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()}">'
    )


def for_layout(html: str) -> str:
    """The HTML as WeasyPrint lays it out: the same document, with the stylesheet given pre-parsed and
    each inline SVG passed as an embedded image. WeasyPrint draws an SVG the same way either way, but
    inline SVG elements also go through its HTML parser and CSS cascade, which doubles the layout time
    of a chart-heavy page; the embedded image skips that. The HTML files keep the inline SVG."""
    return _SVG.sub(_svg_image, _STYLE.sub("", html, count=1))


def layout(html: str) -> Any:
    """WeasyPrint's laid-out document of an HTML string (pages and their box trees)."""
    from weasyprint import HTML

    return HTML(string=for_layout(html), base_url=str(TEMPLATES)).render(
        font_config=_font_config(), stylesheets=[_parsed_stylesheet()]
    )


def render_fitted(
    template: str, context: dict[str, Any], fmt: Formatter, pdf: bool, max_pages: int | None = None
) -> Rendered:
    """Render a template to HTML and, when `pdf`, to PDF; with `max_pages`, lay the PDF out denser
    (density 1, 2, 3) until it fits. The HTML returned is always the roomiest (density 0) version."""
    html = render_html(template, context, fmt)
    if not pdf:
        return Rendered(html=html)
    for density in DENSITIES:
        source = html if density == 0 else render_html(template, context, fmt, density)
        document = layout(source)
        if max_pages is None or len(document.pages) <= max_pages or density == DENSITIES[-1]:
            break
    return Rendered(
        html=html, pdf=document.write_pdf(), pages=len(document.pages), density=density, pdf_html=source
    )


@dataclass(frozen=True)
class Job:
    """One document to render: template, context (plain data, charts already SVG), language, page cap."""

    name: str
    template: str
    context: dict[str, Any]
    language: str
    max_pages: int | None = None

    def run(self, pdf: bool = True) -> Rendered:
        return render_fitted(self.template, self.context, Formatter(self.language), pdf, self.max_pages)
