"""Turn a template and its context into HTML, and the same HTML into PDF with WeasyPrint.

One rendering path: Jinja2 fills `templates/*.html` (the stylesheet is inlined, charts and maps are
inline SVG, so an HTML file stands alone); WeasyPrint lays that HTML out on A4 pages. The font
configuration and the parsed stylesheet are made once per process and reused. A fact sheet must fit
two pages: when it does not, it is laid out again more densely (smaller type, then shorter boxes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from retour.report.i18n import Formatter

TEMPLATES = Path(__file__).parent / "templates"
DENSITIES = (0, 1, 2, 3)


@dataclass(frozen=True)
class Rendered:
    """A rendered document: its HTML, and (when asked for) its PDF bytes and page count."""

    html: str
    pdf: bytes | None = None
    pages: int | None = None
    density: int = 0


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
    return environment().get_template(template).render(
        **context, _=fmt._, fmt=fmt, lang=fmt.language, css=stylesheet(), density=density)


@cache
def _font_config() -> Any:
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def layout(html: str) -> Any:
    """WeasyPrint's laid-out document of an HTML string (pages and their box trees)."""
    from weasyprint import HTML

    return HTML(string=html, base_url=str(TEMPLATES)).render(font_config=_font_config())


def to_pdf(html: str) -> tuple[bytes, int]:
    """PDF bytes and page count of an HTML string."""
    document = layout(html)
    return document.write_pdf(), len(document.pages)


def render_fitted(template: str, context: dict[str, Any], fmt: Formatter, pdf: bool,
                  max_pages: int | None = None) -> Rendered:
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
    return Rendered(html=html, pdf=document.write_pdf(), pages=len(document.pages), density=density)
