"""The operations page's plots: each a figure (title, description in words, the SVG)
and the data table that says the same in numbers (text alternative and for screen
readers). Built from :mod:`services.operations.domain.plot_data`; drawn with
:mod:`.charts`. Every text is a msgid of the pages' catalogue (:mod:`shared.pages.i18n`),
written in the language of ``t`` (a gettext translations object; English by default)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from statistics import median
from zoneinfo import ZoneInfo

from services.operations.adapters.charts import (COLOURS, GRID, INK, MUTED, Figure, Scale,
                                                 month_ticks, nice_ticks, number, y_grid)
from services.operations.domain.plot_data import (BANDS, StageSeries, TargetSeries,
                                                  TopicScores)
from shared.pages.i18n import N_, translations

ENGLISH = translations("en")

BAND_COLOURS = dict(zip((key for key, _, _ in BANDS), (
    COLOURS["blue"], COLOURS["purple"], COLOURS["teal"], COLOURS["ochre"],
    COLOURS["orange"], COLOURS["green"], COLOURS["red"], COLOURS["grey"],
    COLOURS["magenta"])))
LIST_COLOURS = {"main": COLOURS["green"], "reserve": COLOURS["orange"],
                "rejected": COLOURS["red"], None: COLOURS["blue"]}
LIST_NAMES = {"main": N_("main list"), "reserve": N_("reserve list"),
              "rejected": N_("rejected"), None: N_("not ranked yet")}
MOST_EXPERTS = 30
MOST_BARS = 150  # more proposals in a topic: drawn as outlines, not one bar each
MOST_ROWS = 100  # more: the data table gives the distribution, not every proposal
LEFT, RIGHT, TOP = 60, 20, 24


def _local(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _money(amount: Decimal | None) -> str:
    return "–" if amount is None else f"EUR {amount:,.2f}"


def _table(caption: str, columns: list[str], rows: list[list]) -> dict:
    return {"caption": caption, "columns": columns,
            "rows": [["–" if c is None else str(c) for c in row] for row in rows]}


def _plot(figure: Figure, table: dict) -> dict:
    return {"id": figure.id, "title": figure.title, "description": figure.description,
            "svg": figure.svg(), "table": table}


# ----------------------------------------------------------------------- stages over time
def stages_plot(series: StageSeries | None, zone: str, t=ENGLISH) -> dict:
    _ = t.gettext
    title = _("Proposals per stage over the call's time")
    if series is None:
        nothing = _("No proposal has been submitted yet.")
        figure = Figure("plot-stages", title, nothing, height=60)
        figure.text(LEFT, 36, nothing, fill=MUTED)
        return _plot(figure, _table(_("Proposals per stage"), [_("When")], []))
    shown = [(key, _(label)) for key, label, _states in BANDS if any(series.counts[key])]
    last = series.at(len(series.instants) - 1)
    words = ", ".join(f"{last[key]} {label.lower()}" for key, label in shown if last[key])
    description = _("Stacked areas of how many proposals were in each stage from "
                    "%(start)s to %(end)s, with the timetable's milestones as dashed lines. "
                    "At the end: %(counts)s.") % {
        "start": _local(series.start, zone), "end": _local(series.end, zone), "counts": words}
    figure = Figure("plot-stages", title, description, height=380)
    x0, x1, y0, y1 = LEFT, figure.width - RIGHT, 250.0, float(TOP + 44)
    total = max(sum(series.at(i).values()) for i in range(len(series.instants)))
    ticks = nice_ticks(total, whole=True)
    x = Scale(0, (series.end - series.start).total_seconds(), x0, x1)
    y = Scale(0, ticks[-1], y0, y1)
    y_grid(figure, y, ticks, x0, x1, _("proposals"))

    def at_x(instant):
        return x((instant - series.start).total_seconds())

    lower = [0] * len(series.instants)
    for key, label in shown:
        upper = [low + n for low, n in zip(lower, series.counts[key])]
        points = _steps([at_x(t) for t in series.instants], [y(v) for v in upper], x1)
        below = _steps([at_x(t) for t in series.instants], [y(v) for v in lower], x1)
        figure.path(points + below[::-1], fill=BAND_COLOURS[key], stroke="#ffffff",
                    width=0.5, close=True,
                    tooltip=_("%(stage)s: %(count)s at the end") % {"stage": label,
                                                                     "count": last[key]})
        lower = upper
    for tick in month_ticks(series.start, series.end, zone):
        figure.line(at_x(tick), y0, at_x(tick), y0 + 5, stroke=MUTED)
        figure.text(at_x(tick), y0 + 18, tick.strftime("%b %Y"), anchor="middle", size=11,
                    fill=MUTED)
    for index, (label, instant) in enumerate(series.milestones):
        mx = at_x(instant)
        figure.line(mx, y0, mx, y1 - 30, stroke=INK, dash="4 3")
        figure.text(mx + 3, y1 - 32 + (index % 3) * -10, f"{index + 1}", size=10,
                    weight="bold", halo=True)
    figure.line(x0, y0, x1, y0, stroke=INK)
    bottom = figure.legend([(label, BAND_COLOURS[key]) for key, label in shown], x0, 290)
    for i, (label, instant) in enumerate(series.milestones):  # what each number marks
        figure.text(x0 + (i % 2) * 340, bottom + 8 + (i // 2) * 16,
                    f"{i + 1}  {_cut(label, 40)} ({_local(instant, zone)[:10]})", size=11,
                    fill=MUTED)
    figure.height = int(bottom + 20 + ((len(series.milestones) + 1) // 2) * 16)
    rows = []
    marks = {instant: label for label, instant in series.milestones}
    for index, instant in enumerate(series.instants):
        if instant in marks or index == len(series.instants) - 1:
            counts = series.at(index)
            rows.append([_local(instant, zone), marks.get(instant, _("latest")),
                         *(counts[key] for key, _label in shown), sum(counts.values())])
    return _plot(figure, _table(_("Proposals in each stage at each milestone, in the call's "
                                  "time zone"), [_("When"), _("Milestone"),
                                                 *(lbl for _key, lbl in shown), _("All")],
                                rows))


def _steps(xs: list[float], ys: list[float], end: float, width: float = 0.5,
           pick=None) -> list[tuple[float, float]]:
    """A step line: each value holds until the next x. One value per column of ``width``
    pixels (the last one, or ``pick`` of them, e.g. the highest bar in SVG y, ``min``),
    and a corner only where the value changes: thousands of proposals draw as a few
    hundred points."""
    columns: dict[float, list[float]] = {}
    for px, py in zip(xs, ys):
        columns.setdefault(round(px / width) * width, []).append(py)
    points: list[tuple[float, float]] = []
    for px, values in columns.items():
        py = pick(values) if pick else values[-1]
        if not points:
            points.append((px, py))
        elif py != points[-1][1]:
            points += [(px, points[-1][1]), (px, py)]
    points.append((end, points[-1][1]))
    return points


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"


# ----------------------------------------------------------------------- scores per topic
def score_plot(topic: TopicScores, t=ENGLISH) -> dict:
    _, ngettext = t.gettext, t.ngettext
    n = len(topic.entries)
    line = _("projected budget line") if not topic.ranked else _("budget line")
    order = _("ranking order") if topic.ranked else _("score order")
    title = (_("Scores of topic %(topic)s – %(title)s") if topic.title
             else _("Scores of topic %(topic)s")) % {"topic": topic.topic_id,
                                                      "title": topic.title}
    above = sum(1 for e in topic.entries if e.score >= topic.threshold)
    description = " ".join((
        ngettext("%(count)s proposal in %(order)s, each bar its consensus score out of "
                 "%(most)s; %(above)s at or above the threshold of %(threshold)s (dashed "
                 "line).",
                 "%(count)s proposals in %(order)s, each bar its consensus score out of "
                 "%(most)s; %(above)s at or above the threshold of %(threshold)s (dashed "
                 "line).", n) % {"count": n, "order": order,
                                 "most": number(topic.max_score), "above": above,
                                 "threshold": number(topic.threshold)},
        ngettext("The %(line)s falls after %(count)s proposal asking %(asked)s of the "
                 "budget of %(budget)s.",
                 "The %(line)s falls after %(count)s proposals asking %(asked)s of the "
                 "budget of %(budget)s.", topic.funded) % {
            "line": line, "count": topic.funded, "asked": _money(topic.funded_total),
            "budget": _money(topic.budget)}))
    figure = Figure(f"plot-scores-{topic.topic_id}", title, description, height=330)
    x0, x1, y0, y1 = LEFT, figure.width - RIGHT, 240.0, float(TOP)
    ticks = nice_ticks(float(topic.max_score))
    y = Scale(0, ticks[-1], y0, y1)
    y_grid(figure, y, ticks, x0, x1, _("points"))
    slot = min((x1 - x0) / max(n, 1), 36.0)
    if n <= MOST_BARS:
        for index, entry in enumerate(topic.entries):
            bar = _("%(proposal)s %(acronym)s: %(score)s points, %(list)s") % {
                "proposal": entry.proposal_id, "acronym": entry.acronym or "",
                "score": number(entry.score), "list": _(LIST_NAMES.get(entry.list))}
            if entry.rank:
                bar = _("%(bar)s, rank %(rank)s") % {"bar": bar, "rank": entry.rank}
            figure.rect(x0 + index * slot + slot * 0.1, y(entry.score), slot * 0.8,
                        y0 - y(entry.score), LIST_COLOURS.get(entry.list, COLOURS["blue"]),
                        tooltip=bar)
    else:  # bars thinner than a pixel: one outline per run of the same list
        for start, stop, key in _runs([e.list for e in topic.entries]):
            tops = _steps([x0 + i * slot for i in range(start, stop)],
                          [y(topic.entries[i].score) for i in range(start, stop)],
                          x0 + stop * slot, width=1, pick=min)  # min y: the highest
            points = [(x0 + start * slot, y0), *tops, (x0 + stop * slot, y0)]
            figure.path(points, fill=LIST_COLOURS.get(key, COLOURS["blue"]), close=True,
                        tooltip=_("%(count)s proposals, %(list)s") % {
                            "count": stop - start, "list": _(LIST_NAMES.get(key))})
    figure.line(x0, y(topic.threshold), x1, y(topic.threshold), stroke=INK, width=1.5,
                dash="6 4")
    figure.text(x1, y(topic.threshold) - 5,
                _("threshold %(threshold)s") % {"threshold": number(topic.threshold)},
                anchor="end", size=11, halo=True)
    bx = x0 + topic.funded * slot
    figure.line(bx, y0, bx, y1, stroke=INK, width=2)
    figure.text(bx + 4, y1 + 12, f"{line}: {_money(topic.budget)}", size=11, halo=True)
    figure.line(x0, y0, x1, y0, stroke=INK)
    figure.text(x0, y0 + 16, f"{order} →", size=11, fill=MUTED)
    lists = [key for key in ("main", "reserve", "rejected", None)
             if any(e.list == key for e in topic.entries)]
    figure.legend([(_(LIST_NAMES[key]), LIST_COLOURS[key]) for key in lists], x0, 290,
                  column=170)
    caption = _("Scores of topic %(topic)s (threshold %(threshold)s, budget %(budget)s)") % {
        "topic": topic.topic_id, "threshold": number(topic.threshold),
        "budget": _money(topic.budget)}
    above_line = _("Above the %(line)s") % {"line": line}
    if n > MOST_ROWS:  # the distribution, in bands of 10 points
        return _plot(figure, _score_bands(topic, lists, caption, above_line, t))
    rows = [[e.rank, e.proposal_id, e.acronym, number(e.score), _(LIST_NAMES.get(e.list)),
             _money(e.amount), _("yes") if i < topic.funded else _("no")]
            for i, e in enumerate(topic.entries)]
    return _plot(figure, _table(caption, [_("Rank"), _("Proposal"), _("Acronym"), _("Score"),
                                          _("List"), _("Grant"), above_line], rows))


def _runs(keys: list) -> list[tuple[int, int, object]]:
    """``(start, stop, key)`` of each run of equal consecutive keys."""
    runs: list[tuple[int, int, object]] = []
    for index, key in enumerate(keys):
        if runs and runs[-1][2] == key:
            runs[-1] = (runs[-1][0], index + 1, key)
        else:
            runs.append((index, index + 1, key))
    return runs


def _score_bands(topic: TopicScores, lists: list, caption: str, above_line: str,
                 t=ENGLISH) -> dict:
    """How many proposals scored in each band of 10 points, per list, and how many of
    them are above the budget line."""
    _ = t.gettext
    top = int(topic.max_score)
    bands = [(low, min(low + 10, top)) for low in range(0, top, 10)][::-1]
    above = {e.proposal_id for e in topic.entries[:topic.funded]}
    rows = []
    for low, high in bands:
        members = [e for e in topic.entries
                   if low <= e.score < high or (high == top and e.score == top)]
        if members:
            rows.append([_("%(low)s to %(high)s") % {"low": low, "high": high}, len(members),
                         *(sum(1 for e in members if e.list == key) for key in lists),
                         sum(1 for e in members if e.proposal_id in above)])
    return _table(_("%(caption)s, proposals per band of 10 points") % {"caption": caption},
                  [_("Score"), _("Proposals"), *(_(LIST_NAMES[key]) for key in lists),
                   above_line], rows)


# ----------------------------------------------------------------------- evaluator loads
def loads_plot(experts: list[dict], t=ENGLISH) -> dict:
    _, ngettext = t.gettext, t.ngettext
    title = _("Evaluator loads")
    shown = experts[:MOST_EXPERTS]
    if not shown:
        nobody = _("No evaluator is assigned yet.")
        figure = Figure("plot-loads", title, nobody, height=60)
        figure.text(LEFT, 36, nobody, fill=MUTED)
        return _plot(figure, _table(_("Current assignments per expert"), [_("Expert")], []))
    heaviest = shown[0]["current"]
    description = ngettext(
        "Current assignments of %(count)s evaluator, heaviest first: each bar splits final "
        "reports from reports still due. The heaviest load is %(heaviest)s.",
        "Current assignments of %(count)s evaluators, heaviest first: each bar splits final "
        "reports from reports still due. The heaviest load is %(heaviest)s.",
        len(experts)) % {"count": len(experts), "heaviest": heaviest}
    if len(experts) > MOST_EXPERTS:
        description += " " + _("The %(drawn)s heaviest of %(count)s are drawn; the table "
                               "lists all.") % {"drawn": MOST_EXPERTS, "count": len(experts)}
    row, label_width = 20, 200
    figure = Figure("plot-loads", title, description, height=len(shown) * row + 90)
    x0, x1 = label_width, figure.width - 60
    ticks = nice_ticks(max(heaviest, 1), whole=True)
    x = Scale(0, ticks[-1], x0, x1)
    top, bottom = TOP, TOP + len(shown) * row
    for tick in ticks:
        figure.line(x(tick), top, x(tick), bottom, stroke=GRID)
        figure.text(x(tick), bottom + 14, number(tick), anchor="middle", size=11, fill=MUTED)
    for index, expert in enumerate(shown):
        cy = top + index * row
        due, final = expert["reports_due"], expert["current"] - expert["reports_due"]
        name = _cut(f"{expert['name'] or expert['expert_id']} ({expert['expert_id']})", 30)
        figure.text(x0 - 8, cy + 14, name, anchor="end", size=11)
        figure.rect(x0, cy + 3, x(final) - x0, row - 6, COLOURS["green"],
                    tooltip=_("%(expert)s: %(count)s final report(s)") % {"expert": name,
                                                                          "count": final})
        figure.rect(x(final), cy + 3, x(final + due) - x(final), row - 6, COLOURS["blue"],
                    tooltip=_("%(expert)s: %(count)s report(s) due") % {"expert": name,
                                                                        "count": due})
        figure.text(x(expert["current"]) + 6, cy + 14, expert["current"], size=11)
    figure.text(x0, bottom + 30, _("current assignments"), size=11, fill=MUTED)
    figure.legend([(_("final report submitted"), COLOURS["green"]),
                   (_("report due"), COLOURS["blue"])], x0, bottom + 56, column=200)
    rows = [[f"{e['name'] or e['expert_id']} ({e['expert_id']})", e["current"],
             e["current"] - e["reports_due"], e["reports_due"], e["released"]]
            for e in experts]
    return _plot(figure, _table(_("Current assignments per expert, heaviest first"),
                                [_("Expert"), _("Current"), _("Final reports"),
                                 _("Reports due"), _("Released")], rows))


# ----------------------------------------------------------------------- time targets
def _months(count: int, t) -> str:
    return t.ngettext("%(count)s month", "%(count)s months", count) % {"count": count}


def targets_plot(series: tuple[TargetSeries, TargetSeries], t=ENGLISH) -> dict:
    _ = t.gettext
    title = _("Time to inform and time to grant against their targets")
    words = "; ".join(
        _("%(measure)s: %(within)s of %(expected)s within the target of %(months)s "
          "(%(days)s days), %(waiting)s waiting") % {
            "measure": _(s.label).lower(), "within": s.within, "expected": s.expected,
            "months": _months(s.target_months, t), "days": number(s.limit_days),
            "waiting": s.waiting}
        for s in series)
    description = _("For each measure, how many proposals were reached by each day after "
                    "the submission deadline (a rising step line), with the target as a "
                    "dashed line: %(measures)s.") % {"measures": words}
    figure = Figure("plot-targets", title, description, height=300)
    panel = (figure.width - LEFT - RIGHT - 40) / 2
    for index, s in enumerate(series):
        _target_panel(figure, s, LEFT + index * (panel + 40), panel, t)
    rows = [[_(s.label), _months(s.target_months, t), number(s.limit_days), s.expected,
             len(s.days), s.within, s.waiting,
             number(median(s.days)) if s.days else None] for s in series]
    return _plot(figure, _table(_("Time to inform (deadline to the result letter) and time "
                                  "to grant (deadline to the signature), in days"),
                                [_("Measure"), _("Target"), _("Limit (days)"),
                                 _("Proposals"), _("Reached"), _("Within target"),
                                 _("Waiting"), _("Median (days)")], rows))


def _target_panel(figure: Figure, s: TargetSeries, left: float, width: float,
                  t=ENGLISH) -> None:
    _ = t.gettext
    x0, x1, y0, y1 = left, left + width, 220.0, float(TOP + 26)
    figure.text(x0, TOP + 4, f"{_(s.label)} ({s.measure.upper()})", weight="bold")
    if not s.expected:
        figure.text(x0, TOP + 40, _("No proposal to measure yet."), fill=MUTED)
        return
    span = max(s.limit_days * 1.15, (s.days[-1] if s.days else 0) * 1.05)
    x = Scale(0, span, x0, x1)
    ticks = nice_ticks(s.expected, 4, whole=True)
    y = Scale(0, ticks[-1], y0, y1)
    for tick in ticks:
        figure.line(x0, y(tick), x1, y(tick), stroke=GRID)
        figure.text(x0 - 6, y(tick) + 4, number(tick), anchor="end", size=11, fill=MUTED)
    for tick in nice_ticks(span, 4):
        if tick <= span:
            figure.text(x(tick), y0 + 16, number(tick), anchor="middle", size=11, fill=MUTED)
    points = _steps([x(0), *(x(day) for day in s.days)],
                    [y(count) for count in range(len(s.days) + 1)], x1)
    figure.path(points, stroke=COLOURS["blue"], width=2.5,
                tooltip=_("%(reached)s of %(expected)s reached") % {
                    "reached": len(s.days), "expected": s.expected})
    figure.line(x(s.limit_days), y0, x(s.limit_days), y1, stroke=COLOURS["red"], width=1.5,
                dash="6 4")
    figure.text(x(s.limit_days) - 4, y1 + 12,
                _("target %(months)s") % {"months": _months(s.target_months, t)},
                anchor="end", size=11, fill=COLOURS["red"], halo=True)
    figure.line(x0, y0, x1, y0, stroke=INK)
    figure.text((x0 + x1) / 2, y0 + 34, _("days after the deadline"), anchor="middle",
                size=11, fill=MUTED)
    figure.text(x0, y0 + 56, _("%(within)s of %(expected)s within target, %(waiting)s "
                               "waiting") % {"within": s.within, "expected": s.expected,
                                             "waiting": s.waiting}, size=12)
