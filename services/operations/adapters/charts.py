"""Drawing plots as SVG on the server, with nothing but the standard library.

Why not a chart library: the page's Content-Security-Policy allows styles and scripts
only with its nonce, so an SVG placed in the page may carry no ``style`` attribute, no
``<style>`` and no ``<script>``; matplotlib and pygal write all three. Here every colour
and size is a presentation attribute (``fill``, ``stroke``, ``font-size``), which CSP
does not govern, and every text is escaped.

Each figure is ``role="img"`` with a ``<title>`` and a ``<desc>`` that say what it shows
in words; the page puts the figure's data table beside it.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

INK, MUTED, GRID, PAPER = "#1b1f24", "#4a5562", "#d0d7de", "#ffffff"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
#: fills with at least 3:1 contrast against white (WCAG 1.4.11 for graphics)
COLOURS = {"blue": "#0b5cad", "purple": "#6a3d9a", "teal": "#00695c", "ochre": "#8c6d00",
           "orange": "#b35806", "green": "#1e6b34", "red": "#a4161a", "grey": "#5d6d7e",
           "magenta": "#8e3b74"}


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def number(value: float) -> str:
    """``1,234`` or ``12.5``: at most one decimal, none when whole."""
    rounded = round(float(value), 1)
    return f"{rounded:,.0f}" if rounded == int(rounded) else f"{rounded:,.1f}"


def _attrs(attrs: dict) -> str:
    return "".join(f' {name.replace("_", "-")}="{esc(value)}"'
                   for name, value in attrs.items() if value is not None)


def _coord(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Scale:
    """Maps the domain ``[lo, hi]`` linearly onto ``[a, b]`` (pixels)."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, value: float) -> float:
        if self.hi == self.lo:
            return self.a
        return self.a + (float(value) - self.lo) * (self.b - self.a) / (self.hi - self.lo)


def nice_ticks(hi: float, count: int = 5, whole: bool = False) -> list[float]:
    """Round tick values from 0 to at least ``hi`` (1, 2, 2.5 or 5 times a power of 10;
    ``whole``: whole numbers only, for counts)."""
    if hi <= 0:
        return [0.0, 1.0]
    raw = hi / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if whole:
        step = max(1.0, float(math.ceil(step)))
    ticks = [0.0]
    while ticks[-1] < hi - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def month_ticks(start: datetime, end: datetime, zone: str, most: int = 9) -> list[datetime]:
    """First days of months between ``start`` and ``end`` in ``zone``, every N months so
    that at most ``most`` remain."""
    tz = ZoneInfo(zone)
    first = start.astimezone(tz)
    months = []
    year, month = first.year, first.month
    while True:
        tick = datetime(year, month, 1, tzinfo=tz)
        if tick > end:
            break
        if tick >= start:
            months.append(tick)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    step = max(1, math.ceil(len(months) / most))
    return months[::step]


class Figure:
    """One SVG document being drawn: add elements, then :meth:`svg`."""

    def __init__(self, figure_id: str, title: str, description: str, width: int = 760,
                 height: int = 320):
        self.id, self.title, self.description = figure_id, title, description
        self.width, self.height = width, height
        self.parts: list[str] = []

    def element(self, name: str, text: str | None = None, **attrs) -> None:
        """``<name attrs>text</name>``; ``text`` is escaped."""
        body = f">{esc(text)}</{name}>" if text is not None else "/>"
        self.parts.append(f"<{name}{_attrs(attrs)}{body}")

    def rect(self, x, y, w, h, fill, tooltip: str | None = None, **attrs) -> None:
        attrs = {"x": _coord(x), "y": _coord(y), "width": _coord(max(w, 0)),
                 "height": _coord(max(h, 0)), "fill": fill, **attrs}
        if tooltip is None:
            self.element("rect", **attrs)
        else:  # a <title> child: what a pointer shows over the bar
            self.parts.append(f"<rect{_attrs(attrs)}><title>{esc(tooltip)}</title></rect>")

    def line(self, x1, y1, x2, y2, stroke=INK, width: float = 1, dash: str | None = None):
        self.element("line", x1=_coord(x1), y1=_coord(y1), x2=_coord(x2), y2=_coord(y2),
                     stroke=stroke, stroke_width=width, stroke_dasharray=dash)

    def path(self, points: list[tuple[float, float]], fill="none", stroke=None,
             width: float = 1, close: bool = False, tooltip: str | None = None) -> None:
        if not points:
            return
        d = "M" + " L".join(f"{_coord(x)} {_coord(y)}" for x, y in points) + (
            " Z" if close else "")
        attrs = {"d": d, "fill": fill, "stroke": stroke,
                 "stroke-width": width if stroke else None}
        if tooltip is None:
            self.element("path", **attrs)
        else:
            self.parts.append(f"<path{_attrs(attrs)}><title>{esc(tooltip)}</title></path>")

    def text(self, x, y, content, anchor="start", size: int = 12, fill=INK,
             weight: str | None = None, rotate: bool = False, halo: bool = False) -> None:
        self.element("text", str(content), x=_coord(x), y=_coord(y), text_anchor=anchor,
                     font_size=size, fill=fill, font_weight=weight,
                     transform=f"rotate(-90 {_coord(x)} {_coord(y)})" if rotate else None,
                     # a white outline keeps text readable over lines and areas
                     stroke=PAPER if halo else None, stroke_width=3 if halo else None,
                     paint_order="stroke" if halo else None)

    def legend(self, items: list[tuple[str, str]], x: float, y: float,
               column: float = 240) -> float:
        """Swatch and label per item, in rows of columns; returns the y below it."""
        per_row = max(1, int((self.width - x) // column))
        for index, (label, colour) in enumerate(items):
            cx, cy = x + (index % per_row) * column, y + (index // per_row) * 20
            self.rect(cx, cy - 10, 12, 12, colour)
            self.text(cx + 18, cy, label)
        rows = math.ceil(len(items) / per_row) if items else 0
        return y + rows * 20

    def svg(self) -> str:
        labelled = f"{self.id}-title {self.id}-desc"
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} '
                f'{self.height}" width="{self.width}" height="{self.height}" role="img" '
                f'aria-labelledby="{labelled}" font-family="{esc(FONT)}" '
                f'id="{esc(self.id)}-svg" class="plot">'
                f'<title id="{esc(self.id)}-title">{esc(self.title)}</title>'
                f'<desc id="{esc(self.id)}-desc">{esc(self.description)}</desc>'
                f'<rect x="0" y="0" width="{self.width}" height="{self.height}" '
                f'fill="{PAPER}"/>')
        return head + "".join(self.parts) + "</svg>"


def y_grid(figure: Figure, scale: Scale, ticks: list[float], x0: float, x1: float,
           label: str) -> None:
    """Horizontal grid lines with their values on the left, and the axis's label."""
    for tick in ticks:
        y = scale(tick)
        figure.line(x0, y, x1, y, stroke=GRID)
        figure.text(x0 - 6, y + 4, number(tick), anchor="end", size=11, fill=MUTED)
    figure.text(14, (scale.a + scale.b) / 2, label, anchor="middle", size=11, fill=MUTED,
                rotate=True)
