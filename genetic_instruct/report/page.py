"""HTML building blocks shared by the run page and the sweep comparison: one self-contained
file (inline CSS, inline SVG) that opens from disk, offline, in any browser."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from genetic_instruct.files.ownership import TEXT_MARKER

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 980px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.subtitle, .note, figcaption { color: #555; }
.note, figcaption { font-size: 0.9em; }
nav { margin: 1em 0; } nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e4e4e4; text-align: left; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; }
svg.chart text { fill: #333; }
svg.chart .grid { stroke: #e6e6e6; } svg.chart .axis { stroke: #888; }
svg.chart .axis-label { font-size: 12px; fill: #222; }
details summary { cursor: pointer; color: #333; }
div.wide { overflow-x: auto; }
"""


class Formatted(str):
    """A number already formatted (a percentage): shown as is, aligned as a number."""


class Markup(str):
    """HTML we built ourselves (a link), put into a table cell unescaped."""


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    body: str


def document(title: str, subtitle: str, intro: str, sections: Sequence[Section]) -> str:
    """The whole page: title, a table of contents, then one section per metric."""
    links = "".join(f'<a href="#{s.anchor}">{escape(s.title)}</a>' for s in sections)
    content = "".join(
        f'<section id="{s.anchor}"><h2>{escape(s.title)}</h2>{s.body}</section>' for s in sections
    )
    return (
        f'<!DOCTYPE html>\n{TEXT_MARKER}\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="subtitle">{escape(subtitle)}</p>{intro}'
        f"<nav>{links}</nav>{content}</body></html>\n"
    )


def table(headers: Sequence[str] | None, rows: Sequence[Sequence[Any]]) -> str:
    """A table (no header row for None); numbers right-aligned and grouped, None a dash."""
    # Long snake_case headers (rejection reasons) may break after an underscore.
    head = "".join(f"<th>{escape(h).replace('_', '_<wbr>')}</th>" for h in headers or ())
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f'<div class="wide"><table>{thead}<tbody>{body}</tbody></table></div>'


def figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def folded(summary: str, body: str) -> str:
    """Detail most readers skip (long per-generation tables)."""
    return f"<details><summary>{escape(summary)}</summary>{body}</details>"


def number(value: Any) -> str:
    """How a number reads on the page: 12,345 / 0.8125 -> 0.81 / None -> a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def percent(value: float | None) -> Formatted:
    return Formatted("–" if value is None else f"{value:.1%}")


def share(part: float, whole: float) -> Formatted:
    return percent(part / whole if whole else None)


def link(href: str, text: str) -> Markup:
    return Markup(f'<a href="{escape(href)}">{escape(text)}</a>')


def _cell(value: Any) -> str:
    numeric = isinstance(value, (int, float, Formatted)) and not isinstance(value, bool)
    text = value if isinstance(value, Markup) else escape(number(value))
    return f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>"
