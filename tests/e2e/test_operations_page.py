"""The operations page in headless Chromium: what a person running the call sees and does.

The operations service runs as a real process; the call's events are published to the
producers' exchanges, one event's handler is made to fail until it is dead-lettered (the
"bug"), and an unreadable message is dead-lettered too. The service is then restarted
without the fault ("the fix is deployed") and a person opens the page.
"""
import os
import re
import shutil

import pytest

from shared.auth import DEFAULT_DEV_SECRET, issue_token
from shared.messaging.dlq import list_dead_letters
from tests.support.infra import eventually
from tests.support.operations_browser import chromium_page, table
from tests.support.pages_browser import AXE_TAGS, _axe_source
from tests.support.operations_scenario import (CALL_ID, EXPECTED, T5, Builder, at,
                                               call_events, publish, publish_unreadable)

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def axe_violations(page) -> list[dict]:
    """What axe-core (vendored, as in the pages' tests) finds against WCAG 2.1 A/AA."""
    page.evaluate(_axe_source())  # through the driver: the page's CSP stays in force
    return page.evaluate(
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})
             .then(r => r.violations.map(v => ({id: v.id, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))""", AXE_TAGS)


def table_rows(within) -> list[list[str]]:
    """The text of each body row's cells of the table inside ``within``."""
    return within.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")


def _row(rows, first_cell):
    return next((r for r in rows if r and r[0] == first_cell), None)


def test_a_person_follows_the_call_opens_a_timeline_and_replays_a_dead_letter(stack, tmp_path):
    stack.overrides["operations"] = {"OPS_PAGE": {"refresh_ms": 700}}
    stack.start("operations", env={"GRANTFLOW_FAILPOINTS": "consumer.raise@time_target_breached"})
    breach = Builder().breached("P-SIG", at("2019-11-01T00:00:00"))
    publish(stack.vhost.amqp_uri, call_events() + [breach])
    unreadable = publish_unreadable(stack.vhost.amqp_uri)
    eventually(lambda: sorted(l.event_id for l in list_dead_letters(stack.vhost.amqp_uri))
               == sorted([breach.event_id, unreadable]), message="both dead-lettered")
    ops = stack.api("operations")
    eventually(lambda: len(ops.get(f"/calls/{CALL_ID}/proposals").json()
                           .get("proposals", [])) == len(EXPECTED), message="call projected")
    stack.restart("operations")  # the fix is deployed

    token = issue_token(DEFAULT_DEV_SECRET, "ops@grantflow.test", "operations")
    with chromium_page(tmp_path / "profile") as page:
        refused = []  # what the page's Content-Security-Policy blocked, if anything
        page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(
            m.text))
        page.goto(f"{stack.url('operations')}/#token={token}")

        # the timetable, with the current stage highlighted
        current = page.locator("#timetable tr[aria-current='step']")
        assert "Grant agreement preparation starts" in current.inner_text()
        assert "current stage" in current.inner_text()
        assert page.locator("#current-stage").inner_text().startswith(
            "Grant agreement preparation starts")
        assert "token=" not in page.url  # taken from the fragment, then dropped

        # counts per state, topic budget line, loads
        counts = table(page, "counts")
        assert _row(counts, "grant signed") == ["grant signed", "final", "2"]
        assert _row(counts, "reserve") == ["reserve", "final", "1"]
        assert _row(counts, "under evaluation") == ["under evaluation", "in progress", "1"]
        topic = next(r for r in table(page, "topics") if r[0].startswith("AMIF-2018-AG-INTE-5"))
        assert topic[1:4] == ["500,000.00", "450,000.00", "440,000.00"]
        assert len(table(page, "proposals")) == len(EXPECTED)
        loads = table(page, "loads")
        assert next(r for r in loads if r[0].endswith("(E1)"))[1] == "6"

        # the plots, drawn by the server as SVG, each with its text and data table
        eventually(lambda: page.locator("#plots figure svg[role='img']").count() == 4,
                   message="four plots")
        assert page.locator("#plots figcaption").all_inner_texts() == [
            "Proposals per stage over the call's time",
            f"Scores of topic {T5} – Involvement of diaspora in awareness raising",
            "Evaluator loads", "Time to inform and time to grant against their targets"]
        scores = page.locator(f"figure[data-plot='plot-scores-{T5}']")
        assert "budget line: EUR 500,000.00" in scores.locator("svg").text_content()
        assert "threshold" in scores.locator("svg desc").text_content()
        assert scores.locator("svg").bounding_box()["height"] > 200  # drawn, not empty
        scores.locator("summary").click()
        assert [r[:5] for r in table_rows(scores)] == [
            ["1", "P-SIG", "PSIG", "88", "main list"], ["2", "P-DEC", "PDEC", "84", "main list"],
            ["3", "P-PRO", "PPRO", "80", "reserve list"],
            ["4", "P-RES", "PRES", "76", "reserve list"], ["–", "P-REJ", "PREJ", "55", "rejected"]]
        targets = page.locator("figure[data-plot='plot-targets'] svg")
        assert "5 of 8 within target, 3 waiting" in targets.text_content()
        stages = page.locator("figure[data-plot='plot-stages']")
        stages.locator("summary").click()
        assert table_rows(stages)[-1][-1] == str(len(EXPECTED))  # every proposal counted
        assert axe_violations(page) == []  # WCAG 2.1 A/AA, plots and tables included

        # a proposal's timeline after clicking it
        page.locator("#proposals").get_by_role("button", name="P-PRO").click()
        heading = page.locator("#timeline-heading")
        eventually(lambda: heading.inner_text() == "Timeline of PPRO (P-PRO)",
                   message="timeline heading")
        events = [r[1] for r in table(page, "timeline")]
        assert events[-3:] == ["reserve promoted", "grant preparation started", "grant signed"]
        assert "promoted from reserve rank 3" in page.locator("#timeline").inner_text()
        assert "State: grant signed (final)" in page.locator("#timeline-facts").inner_text()

        # the dead letters listed; Replay sends the fixed one back
        letters = eventually(lambda: (lambda rows: len(rows) == 2 and rows)(
            table(page, "dead-letters")), message="two dead letters shown")
        assert any(r[0].startswith("time_target_breached") for r in letters)
        assert any("invalid payload" in r[3] for r in letters)
        page.locator(f"#dead-letters tr[data-event-id='{breach.event_id}']").get_by_role(
            "button", name=re.compile("^Replay")).click()
        eventually(lambda: [r[0] for r in table(page, "dead-letters")] ==
                   [f"proposal_submitted {unreadable}"], message="the replayed letter is gone")

        # its effect appears in the proposal's timeline
        page.locator("#proposals").get_by_role("button", name="P-SIG").click()
        eventually(lambda: "time to grant target of 8 months breached" in
                   page.locator("#timeline").inner_text(), message="the replayed event counted")
        _screenshot(page, tmp_path)
        assert refused == []

        # the token is remembered: a plain reload shows the call again
        page.goto(stack.url("operations") + "/")
        eventually(lambda: page.locator("#current-stage").inner_text().startswith(
            "Grant agreement preparation starts"), message="shown again after reload")
        assert page.locator("#token-form").is_hidden()


def _screenshot(page, tmp_path):
    path = tmp_path / "operations-page.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("GRANTFLOW_SCREENSHOTS")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(path, keep)
