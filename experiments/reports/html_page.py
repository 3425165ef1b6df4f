"""Small building blocks of the self-contained HTML pages (run report, run comparison).

Pages carry their CSS inline, use no JavaScript and reference images as relative files beside them, so a
page opens from disk in any browser with nothing fetched from the network. Every value is escaped.
"""
from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Iterable, Sequence

from infra.files import atomic_write_text

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 1200px;
       padding: 0 1em; color: #222; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; } td.text, th.text { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
.note { color: #555; font-size: 0.9em; } .warn { color: #a00; font-weight: bold; }
.good { color: #060; font-weight: bold; } .bad { color: #a00; font-weight: bold; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; } figcaption { font-size: 0.85em; color: #444; }
details pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.8em; }
dl.provenance { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.provenance dt { font-weight: bold; } dl.provenance dd { margin: 0; }
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def fmt(value, digits: int = 3) -> str:
    """A number as the official CSVs write it (``%.3f``); None/NaN -> ``n/a``."""
    if value is None:
        return "n/a"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if isinstance(value, (int, float)):
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence], table_id: str = "", text_columns: int = 1) -> str:
    """An HTML table; the first ``text_columns`` columns are left-aligned text, the rest numbers."""
    def cell(tag: str, index: int, value) -> str:
        css = ' class="text"' if index < text_columns else ""
        return f"<{tag}{css}>{value}</{tag}>"

    head = "".join(cell("th", i, esc(h)) for i, h in enumerate(headers))
    body = "\n".join("<tr>" + "".join(cell("td", i, esc(v)) for i, v in enumerate(row)) + "</tr>" for row in rows)
    identifier = f' id="{esc(table_id)}"' if table_id else ""
    return f"<table{identifier}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def figure(src: str, caption: str, width: int | None = None) -> str:
    style = f' style="width:{width}px"' if width else ""
    return f'<figure{style}><img src="{esc(src)}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>'


def definition_list(items: Iterable[tuple[str, str]]) -> str:
    rows = "".join(f"<dt>{esc(key)}</dt><dd>{esc(value)}</dd>" for key, value in items)
    return f'<dl class="provenance">{rows}</dl>'


def details(summary: str, text: str) -> str:
    """A collapsed block of preformatted text."""
    return f"<details><summary>{esc(summary)}</summary><pre>{esc(text)}</pre></details>"


def paragraph(text: str, css: str = "") -> str:
    return f'<p class="{esc(css)}">{esc(text)}</p>' if css else f"<p>{esc(text)}</p>"


def write_page(path: Path, title: str, sections: Iterable[str]) -> Path:
    """Write a complete page (inline CSS, no scripts) atomically."""
    body = "\n".join(sections)
    text = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{esc(title)}</title>\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<style>{CSS}</style>\n</head>\n'
            f"<body>\n<h1>{esc(title)}</h1>\n{body}\n</body>\n</html>\n")
    return atomic_write_text(path, text)
