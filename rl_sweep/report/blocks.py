"""The blocks a report is made of, each of which knows how it reads in Markdown and in HTML; the two
documents made of them, ``report.md`` and ``report.html`` (its images embedded, its replays beside it); and how a
number reads in them."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rl_sweep.text import number


def num(value: float | None, digits: int = 1) -> str:
    return number(value, digits, thousands=True)


def estimate(value: float | None, ci: list[float] | None, digits: int = 1, seeds: int | None = None) -> str:
    """``value [low, high]``; without an interval the value alone, or with ``seeds`` (an interval left out for too
    few of them) ``value (too few seeds for an interval, n = 3)``; ``n/a`` without a value."""
    if value is None:
        return "n/a"
    if ci:
        return f"{num(value, digits)} [{num(ci[0], digits)}, {num(ci[1], digits)}]"
    return num(value, digits) + (f" (too few seeds for an interval, n = {seeds})" if seeds is not None else "")


def steps_span(steps: list[int]) -> str:
    """Budgets in steps, smallest first: ``1,000``, or ``1,000 to 2,000`` when they differ."""
    return f"{steps[0]:,}" if steps[0] == steps[-1] else f"{steps[0]:,} to {steps[-1]:,}"


@dataclass
class Heading:
    level: int
    text: str

    def markdown(self) -> str:
        return f"{'#' * self.level} {self.text}\n"

    def html(self, folder: Path) -> str:
        return f"<h{self.level}>{html.escape(self.text)}</h{self.level}>"


@dataclass
class Paragraph:
    text: str

    def markdown(self) -> str:
        return f"{self.text}\n"

    def html(self, folder: Path) -> str:
        return f"<p>{html.escape(self.text)}</p>"


@dataclass
class Code:
    text: str

    def markdown(self) -> str:
        return f"```bash\n{self.text}\n```\n"

    def html(self, folder: Path) -> str:
        return f"<pre><code>{html.escape(self.text)}</code></pre>"


@dataclass
class Image:
    file: str
    alt: str

    def markdown(self) -> str:
        return f"![{self.alt}]({self.file})\n"

    def html(self, folder: Path) -> str:
        data = base64.b64encode((folder / self.file).read_bytes()).decode()
        alt = html.escape(self.alt)
        return f'<figure><img src="data:image/png;base64,{data}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


@dataclass
class Video:
    """A replay beside the report (an MP4, or an animated GIF), referenced by its path relative to the report:
    videos are too large to embed."""

    file: str
    caption: str

    def markdown(self) -> str:
        return f"[{self.caption}]({self.file})\n"

    def html(self, folder: Path) -> str:
        src, caption = html.escape(self.file), html.escape(self.caption)
        media = (f'<img src="{src}" alt="{caption}">' if self.file.endswith(".gif")
                 else f'<video controls muted loop preload="metadata" src="{src}"></video>')
        return f'<figure class="replay">{media}<figcaption>{caption}</figcaption></figure>'


@dataclass
class Table:
    header: list[str]
    rows: list[list[Any]]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def html(self, folder: Path) -> str:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in self.header)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                       for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


Block = Heading | Paragraph | Code | Image | Video | Table


def to_markdown(blocks: list[Block]) -> str:
    return "\n".join(block.markdown() for block in blocks)


def to_html(blocks: list[Block], folder: Path) -> str:
    """A single page: images embedded as data URIs, so it reads offline and can be mailed (its replays, if any,
    are files beside it)."""
    title = html.escape(blocks[0].text)
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
             "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;"
             "text-align:left}th{background:#f3f3f3}img{max-width:100%}figure{margin:1rem 0}"
             "figcaption{color:#555;font-size:.9rem}video{max-width:100%}"
             "figure.replay{display:inline-block;vertical-align:top;width:31%;margin:.5rem 1% .5rem 0}"
             "pre{background:#f6f6f6;padding:.6rem;overflow-x:auto}")
    body = "".join(block.html(folder) for block in blocks)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{style}</style></head><body>{body}</body></html>\n")
