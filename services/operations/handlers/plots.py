"""The plots of a call for the operations page: each figure's SVG and its data table.

Drawing them reads every proposal's view of the call, so the result is kept per call and
reused until the call's next event is projected (the count of its events and the
language are the key): the page asks every few seconds, the figures change only with the
events."""
from __future__ import annotations

from collections import OrderedDict

from services.operations.adapters import plots as draw
from services.operations.adapters.projections import Projections
from services.operations.domain.loads import expert_loads
from services.operations.domain.plot_data import stages_over_time, time_targets, topic_scores
from services.operations.domain.timetable import timetable
from services.operations.handlers.queries import known_call
from shared.pages.i18n import DEFAULT_LOCALE, translations
from shared.web import NotFound

RESULT_LETTER = "result_letter"
_KEPT = 8  # calls whose plots are kept
_cache: OrderedDict[tuple[str, int, str], dict] = OrderedDict()


def plots(uow, call_id: str, locale: str = DEFAULT_LOCALE) -> dict:
    """``{"call_id", "plots": [{id, title, description, svg, table}]}``: proposals per
    stage over time, scores per topic, evaluator loads, time to inform and to grant; their
    texts in ``locale`` (one of :func:`shared.pages.i18n.available_locales`)."""
    with uow:
        repo = Projections(uow.session)
        key = (call_id, repo.event_total(call_id), locale)
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        found = {"call_id": call_id, "plots": _draw(repo, call_id, translations(locale))}
    _cache[key] = found
    while len(_cache) > _KEPT:
        _cache.popitem(last=False)
    return found


def _draw(repo: Projections, call_id: str, t) -> list[dict]:
    row, call = known_call(repo, call_id)  # 404 for an unknown call
    views = repo.views(call_id)
    zone = call.timezone if call is not None else "UTC"
    reached = [(m["label"], m["at"]) for m in timetable(call, repo.reached_of(row))
               if m["reached"]]
    figures = [draw.stages_plot(stages_over_time(views, reached), zone, t)]
    if call is not None:
        figures += [draw.score_plot(topic, t) for topic in
                    topic_scores(views, call, repo.topic_infos(call_id, call))]
    figures.append(draw.loads_plot(expert_loads(repo.assignments(call_id)), t))
    if call is not None:
        figures.append(draw.targets_plot(time_targets(
            views, repo.first_deliveries(call_id, RESULT_LETTER), call), t))
    return figures


def plot_svg(uow, call_id: str, plot_id: str, locale: str = DEFAULT_LOCALE) -> str:
    """One figure's SVG document, or a 404 naming the plot."""
    for figure in plots(uow, call_id, locale)["plots"]:
        if figure["id"] == plot_id:
            return figure["svg"]
    raise NotFound(f"call {call_id} has no plot {plot_id!r}",
                   errors=[{"field": "plot_id", "rule": "unknown plot"}])
