"""The operations page's plots: their figures from a real projection of a whole call (the
handlers on SQLite, fed the call's events), and SVG that the page's CSP accepts."""
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from services.operations import handlers
from services.operations.adapters.plots import score_plot
from services.operations.adapters.projections import Projections
from services.operations.domain import lifecycle as lc
from services.operations.domain.plot_data import (BAND_OF, Scored, TopicScores,
                                                  stages_over_time, time_targets,
                                                  topic_scores)
from services.operations.handlers.queries import known_call
from shared.web import NotFound
from tests.support.operations_scenario import (CALL_ID, DEADLINE, RANKED, T1, T5, Builder,
                                               at, call_events)
from tests.support.uow import UowFactory
from tests.unit.operations.conftest import Ops

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def projected(tmp_path_factory):
    """The whole scenario call projected once for the tests that only read it."""
    factory = UowFactory("services.operations:migrations",
                         tmp_path_factory.mktemp("plots") / "operations.sqlite", "operations")
    ops = Ops(factory)
    ops.feed(*call_events())
    yield ops
    factory.engine.dispose()


def _small_call() -> Builder:
    """A call with one submitted proposal: enough for what does not need the whole story."""
    b = Builder()
    b.published(at("2018-07-25T22:00:00"))
    b.submitted("P-ONE", T1, at("2019-01-10T10:00:00"))
    return b


def _repo_views(ops):
    with ops.uow() as uow:
        repo = Projections(uow.session)
        row, call = known_call(repo, CALL_ID)
        return repo, row, call, repo.views(CALL_ID), \
            repo.first_deliveries(CALL_ID, "result_letter"), repo.topic_infos(CALL_ID, call)


def test_proposals_per_stage_at_each_milestone_of_the_call(projected):
    _, _, _, views, _, _ = _repo_views(projected)
    milestones = [("Submission deadline", DEADLINE), ("Information to applicants", RANKED)]
    series = stages_over_time(views, milestones)
    assert series.start == at("2019-01-10T10:00:00")  # the first submission
    assert series.end == at("2019-10-15T12:00:00")  # the last signature
    assert series.instants == tuple(sorted(set(series.instants)))
    assert {DEADLINE, RANKED} <= set(series.instants)
    just_before = series.at(series.instants.index(DEADLINE) - 1)
    assert just_before["submitted"] == 8 and just_before["left"] == 1  # P-WDR withdrew
    at_ranking = series.at(series.instants.index(RANKED))
    assert at_ranking == {"submitted": 0, "evaluation": 1, "evaluated": 0, "funded": 2,
                          "reserve": 2, "signed": 0, "rejected": 1, "screened_out": 2,
                          "left": 1}
    assert series.at(len(series.instants) - 1) == {
        "submitted": 0, "evaluation": 1, "evaluated": 0, "funded": 0, "reserve": 1,
        "signed": 2, "rejected": 1, "screened_out": 2, "left": 2}
    assert all(sum(series.at(i).values()) <= 9 for i in range(len(series.instants)))


def test_scores_in_ranking_order_with_threshold_and_budget_line(projected):
    _, _, call, views, _, topics = _repo_views(projected)
    [topic] = topic_scores(views, call, topics)  # P-EVA of topic 1 has no score yet
    assert topic.topic_id == T5 and topic.ranked
    assert [(e.proposal_id, e.score, e.list) for e in topic.entries] == [
        ("P-SIG", Decimal("88.00"), "main"), ("P-DEC", Decimal("84.00"), "main"),
        ("P-PRO", Decimal("80.00"), "reserve"), ("P-RES", Decimal("76.00"), "reserve"),
        ("P-REJ", Decimal("55.00"), "rejected")]
    assert topic.funded == 2 and topic.funded_total == Decimal("450000.00")
    assert topic.budget == Decimal("500000.00")
    assert topic.threshold == call.evaluation.overall_threshold


def test_before_the_ranking_the_budget_line_is_projected_from_the_requests(ops):
    ops.feed(*[e for e in call_events() if e.event_type() not in (
        "ranking_published", "grant_preparation_started", "grant_signed", "grant_declined",
        "reserve_promoted", "notification_delivered", "notification_failed")])
    _, _, call, views, _, topics = _repo_views(ops)
    [topic] = topic_scores(views, call, topics)
    assert not topic.ranked
    # by score: P-SIG asks 200,000, P-DEC 250,000 (450,000); P-PRO's 240,000 does not fit
    assert [e.proposal_id for e in topic.entries][:3] == ["P-SIG", "P-DEC", "P-PRO"]
    assert (topic.funded, topic.funded_total) == (2, Decimal("450000.00"))


def test_time_to_inform_and_to_grant_against_the_targets(projected):
    _, _, call, views, informed, _ = _repo_views(projected)
    assert set(informed) == {"P-REJ", "P-SIG", "P-DEC", "P-PRO", "P-RES"}
    tti, ttg = time_targets(views, informed, call)
    letter_days = (RANKED - DEADLINE) / timedelta(days=1)
    # the call's targets: 6 and 11 months; 31 January 17:00 CET + 6 months is 31 July
    # 17:00 CEST, an hour less than 181 days
    assert (tti.target_months, ttg.target_months) == (6, 11)
    assert tti.limit_days == 181 - 1 / 24
    # frozen and not withdrawn: the five evaluated, the two screened out, P-EVA
    assert (tti.expected, tti.days, tti.within, tti.waiting) == \
        (8, (letter_days,) * 5, 5, 3)
    assert ttg.expected == 2  # P-DEC's grant was declined
    assert ttg.days == ((at("2019-09-01T12:00:00") - DEADLINE) / timedelta(days=1),
                        (at("2019-10-15T12:00:00") - DEADLINE) / timedelta(days=1))
    assert ttg.within == 2


def test_every_plot_is_accessible_svg_that_needs_no_style_or_script(projected):
    found = handlers.plots(projected.uow(), CALL_ID)
    ids = [p["id"] for p in found["plots"]]
    assert ids == ["plot-stages", f"plot-scores-{T5}", "plot-loads", "plot-targets"]
    for plot in found["plots"]:
        root = ET.fromstring(plot["svg"])  # well-formed XML
        assert root.get("role") == "img"
        assert root.get("aria-labelledby") == f"{plot['id']}-title {plot['id']}-desc"
        assert root.find(f"{SVG}title").text == plot["title"]
        assert root.find(f"{SVG}desc").text == plot["description"]
        assert not re.search(r"<(style|script|foreignObject)|\sstyle=|\son\w+=|href",
                             plot["svg"]), plot["id"]
        assert plot["table"]["rows"] and all(
            len(row) == len(plot["table"]["columns"]) for row in plot["table"]["rows"])
    loads = next(p for p in found["plots"] if p["id"] == "plot-loads")
    assert loads["table"]["rows"][0] == ["Expert E1 (E1)", "6", "6", "0", "0"]
    assert handlers.plot_svg(projected.uow(), CALL_ID, "plot-targets").startswith("<svg")
    with pytest.raises(NotFound):
        handlers.plot_svg(projected.uow(), CALL_ID, "plot-nothing")


def test_text_from_events_is_escaped_in_the_svg(ops):
    b = _small_call()
    evil = replace(b.assigned("P-ONE", T1, "E9", at("2019-02-01T09:00:00")),
                   expert_name="<script>alert(1)</script> & co")
    ops.feed(*b.events[:-1], evil)
    svg = handlers.plot_svg(ops.uow(), CALL_ID, "plot-loads")
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in svg
    ET.fromstring(svg)


def test_plots_are_kept_until_the_call_has_a_new_event(ops):
    ops.feed(*_small_call().events)
    first = handlers.plots(ops.uow(), CALL_ID)
    assert handlers.plots(ops.uow(), CALL_ID) is first
    b = Builder()
    b.stage("submission_deadline", "Submission deadline", DEADLINE)
    ops.feed(*b.events)
    again = handlers.plots(ops.uow(), CALL_ID)
    assert again is not first and again["plots"][0]["svg"] != first["plots"][0]["svg"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(lc.STATES),
                                   st.integers(min_value=0, max_value=400)),
                         min_size=1, max_size=6), min_size=1, max_size=8),
       st.integers(min_value=2, max_value=30))
def test_stage_counts_are_each_proposal_s_last_state_entered_at_each_instant(histories,
                                                                            samples):
    views = [lc.ProposalView(f"P-{i}", history=tuple(
        (state, DEADLINE + timedelta(hours=h)) for state, h in sorted(history,
                                                                      key=lambda e: e[1])))
        for i, history in enumerate(histories)]
    series = stages_over_time(views, samples=samples)
    for index, instant in enumerate(series.instants):
        expected = {key: 0 for key in series.counts}
        for view in views:
            entered = [state for state, since in view.history if since <= instant]
            if entered:
                expected[BAND_OF[entered[-1]]] += 1
        assert series.at(index) == expected


def test_a_topic_of_many_proposals_is_drawn_as_outlines_with_a_distribution_table():
    entries = tuple(Scored(f"P-{i:04d}", None, Decimal(100 - i / 4), "main" if i < 60 else
                           "reserve" if i < 120 else "rejected", i + 1, Decimal(100000), True)
                    for i in range(400))
    topic = TopicScores(T5, "A topic", Decimal(70), Decimal(100), Decimal(6_000_000),
                        entries, 60, Decimal(6_000_000), True)
    plot = score_plot(topic)
    assert plot["svg"].count("<rect") < 10 and plot["svg"].count("<path") == 3
    assert len(plot["svg"]) < 20_000
    rows = plot["table"]["rows"]
    assert plot["table"]["columns"][:2] == ["Score", "Proposals"]
    assert sum(int(r[1]) for r in rows) == 400 and sum(int(r[-1]) for r in rows) == 60
    assert rows[0][0] == "90 to 100"
