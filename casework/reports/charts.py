"""The report's charts in its PDF, drawn with fpdf's own lines and rectangles (no image
library): the same two charts as the report page, from the same figures, with their axes,
their numbers in the reader's language and a legend."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from babel.numbers import format_decimal
from flask_babel import gettext as _

from casework.formatting import CURRENCY, HOUR
from casework.i18n import translate
from casework.reports.queries import Indicators

# The page's colours (static/charts.js): debt paid and hours owed blue, hours verified green.
BLUE = (21, 101, 192)
GREEN = (46, 125, 50)
GRID = (205, 210, 215)
AXIS_LABELS = 24  # mm left of the plot for the numbers of the axis
PLOT_HEIGHT = 42  # mm


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    colour: tuple[int, int, int]


@dataclass(frozen=True)
class _Plot:
    highest: float  # the top of the value axis
    show: Callable[[float], str]  # a figure as the reader writes it


def nice_top(highest: float) -> float:
    """The axis's top: the highest bar rounded up to 1, 2, 2.5 or 5 times a power of ten,
    so that its halves are round numbers too."""
    if highest <= 0:
        return 1
    power = 10 ** math.floor(math.log10(highest))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= highest)


def report_charts(pdf: Any, figures: Indicators, locale: str) -> None:
    """Debt paid per month; hours owed and verified per month."""
    labels = [f"{m.month:%m.%Y}" for m in figures.months]
    if not labels:
        return
    denar, hour = translate(CURRENCY, locale), translate(HOUR, locale)
    bar_chart(
        pdf,
        _("Debt paid per month"),
        labels,
        [Series(_("Debt paid (ден.)"), [m.paid_deni / 100 for m in figures.months], BLUE)],
        lambda v: f"{format_decimal(v, format='#,##0', locale=locale)} {denar}",
    )
    bar_chart(
        pdf,
        _("Hours owed and verified per month"),
        labels,
        [
            Series(_("Hours owed"), [m.owed_minutes / 60 for m in figures.months], BLUE),
            Series(_("Hours verified"), [m.verified_minutes / 60 for m in figures.months], GREEN),
        ],
        lambda v: f"{format_decimal(v, format='#,##0.#', locale=locale)} {hour}",
    )


def bar_chart(
    pdf: Any, title: str, labels: list[str], series: list[Series], show: Callable[[float], str]
) -> None:
    """Bars per label (one per series, side by side), a value axis with 0, half and top,
    the labels under the bars and, for more than one series, a legend."""
    if pdf.will_page_break(PLOT_HEIGHT + 22):
        pdf.add_page()
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(0, 6, title, new_x="LMARGIN", new_y="NEXT")
    left, top = pdf.l_margin + AXIS_LABELS, pdf.get_y() + 3
    width = pdf.epw - AXIS_LABELS
    highest = nice_top(max((v for s in series for v in s.values), default=0))
    _axis(pdf, left, top, width, highest, show)
    slot = width / len(labels)
    bar = slot * 0.7 / len(series)
    for i in range(len(labels)):
        for j, one in enumerate(series):
            x = left + i * slot + slot * 0.15 + j * bar
            pdf.set_fill_color(*one.colour)
            _bar(pdf, x, top, bar, one.values[i], _Plot(highest, show))
    _labels(pdf, left, top + PLOT_HEIGHT, slot, labels)
    pdf.set_y(top + PLOT_HEIGHT + 6)
    if len(series) > 1:
        _legend(pdf, left, series)
    pdf.set_fill_color(255, 255, 255)  # the tables after the chart are not filled
    pdf.ln(4)


def _bar(pdf: Any, x: float, top: float, width: float, value: float, plot: _Plot) -> None:
    """One bar with its figure above it (the axis alone gives only round numbers)."""
    height = PLOT_HEIGHT * max(value, 0) / plot.highest
    if height <= 0:
        return
    pdf.rect(x, top + PLOT_HEIGHT - height, width, height, style="F")
    pdf.set_font("DejaVu", "", 6.5)
    pdf.set_xy(x - 4, top + PLOT_HEIGHT - height - 4)
    pdf.cell(width + 8, 4, plot.show(value), align="C")


def _axis(
    pdf: Any, left: float, top: float, width: float, highest: float, show: Callable[[float], str]
) -> None:
    pdf.set_font("DejaVu", "", 7)
    pdf.set_line_width(0.2)
    for share in (0, 0.5, 1):
        y = top + PLOT_HEIGHT * (1 - share)
        pdf.set_draw_color(*GRID)
        pdf.line(left, y, left + width, y)
        pdf.set_xy(pdf.l_margin, y - 2)
        pdf.cell(AXIS_LABELS - 1.5, 4, show(highest * share), align="R")
    pdf.set_draw_color(90, 90, 90)
    pdf.line(left, top, left, top + PLOT_HEIGHT)
    pdf.line(left, top + PLOT_HEIGHT, left + width, top + PLOT_HEIGHT)


def _labels(pdf: Any, left: float, bottom: float, slot: float, labels: list[str]) -> None:
    """The months under their bars; with many months, every second or third one, so that
    no two labels run into each other."""
    pdf.set_font("DejaVu", "", 6.5)
    widest = max(pdf.get_string_width(label) for label in labels) + 1
    every = max(1, math.ceil(widest / slot))
    for i, label in enumerate(labels):
        if i % every == 0:
            pdf.set_xy(left + i * slot, bottom + 0.5)
            pdf.cell(slot, 4, label, align="C")


def _legend(pdf: Any, left: float, series: list[Series]) -> None:
    pdf.set_font("DejaVu", "", 7.5)
    x = left
    y = pdf.get_y()
    for one in series:
        pdf.set_fill_color(*one.colour)
        pdf.rect(x, y + 1, 3, 3, style="F")
        pdf.set_xy(x + 4, y)
        pdf.cell(pdf.get_string_width(one.name) + 2, 5, one.name)
        x = pdf.get_x() + 4
    pdf.set_y(y + 5)
