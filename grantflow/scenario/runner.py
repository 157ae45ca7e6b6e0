"""Run a scenario through the real services, broker and simulated clock (docs/scenarios.md).

The runner acts for applicants, evaluators, coordinators and the granting authority over
the services' HTTP APIs, and moves the shared clock with the timetable driver, which fires
every milestone in order and waits for the pipeline to settle after each one. It never
reads a service's database: what it reports comes from the operations and notifications
services, as an operations team would see it.

Concurrency: everything due at one simulated instant (the applicants' actions of that
instant, an evaluation round's reports, a grant round's signatures) runs at once through a
pool of clients; the runner then settles once, and only then moves the clock. Outcomes do
not depend on the order the threads finish in (see ``scores.py`` for the scores).

Faults: every request is retried through a service restart (``client.py``) with an
Idempotency-Key derived from what the action is, and every phase works out what is left to
do from what the services hold, so ``resume=True`` continues an interrupted replay on the
same stack: drafts are found by acronym and title, an action is skipped when its effect is
there (a version received at its instant, a withdrawal), reports, conflicts and grant steps
are read back before anyone acts.
"""
from __future__ import annotations

import base64
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable

from grantflow.http import pages_after
from grantflow.retry import stable_key
from grantflow.scenario.client import Answer, Outages, People
from grantflow.scenario.environment import Environment
from grantflow.scenario.model import ProposalSpec, Scenario
from grantflow.scenario.progress import bar
from grantflow.scenario.scores import Scores
from grantflow.timetable import TimetableDriver
from shared.calls.loader import load_call_text

AUTHORITY_EMAIL = "authority@grantflow.example"
MAX_ROUNDS = 12
DEFAULT_WORKERS = 32
PAGE = 1000  # proposals per listing request (the service's maximum)
EXPERTS_PER_IMPORT = 2000  # about 0.7 MB of the synthetic pool's JSON, well under 8 MB
#: the replay's phases in order (``run(through=...)`` may stop after any of them)
PHASES = ("prepare", "applicants", "assignment", "evaluation", "grants", "finish")


class ScenarioError(RuntimeError):
    pass


class ScenarioRunner:
    def __init__(self, scenario: Scenario, environment: Environment,
                 progress: Callable[[str], None] = lambda line: None,
                 workers: int = DEFAULT_WORKERS, seed: int = 0, resume: bool = False,
                 progress_bar: bool | None = None,
                 observe: Callable[[str, int, int], None] | None = None,
                 with_notifications: bool = True,
                 phase_ended: Callable[[str], None] = lambda phase: None,
                 milestone_apart: Callable[[str], None] = lambda name: None):
        self.scenario = scenario
        self.phase_ended = phase_ended  # (benchmarks: what each phase cost)
        # (benchmarks: the milestones that fire in a phase with work of its own, the
        # deadline amid the applicants' actions or in the advance to the start of
        # evaluation, are measured apart from it: called with the phase's name before the
        # clock moves, then with each milestone's key once it has settled)
        self.milestone_apart = milestone_apart
        self.env = environment
        self.say = progress
        self.resume = resume
        self.progress_bar = progress_bar
        self.with_notifications = with_notifications  # every person's mail in the report
        self.observe = observe or (lambda label, done, total: None)  # (fault experiments)
        self.people = People(environment.service_urls, environment.auth_secret,
                             outages=Outages(progress), pool_size=workers)
        self.call = load_call_text(scenario.call_yaml)
        self.clock = environment.clock
        self.driver = TimetableDriver(
            self.clock, environment.service_urls["submission"],
            self.people.token("operations", "operations@grantflow.example"),
            environment.amqp_uri, environment.service_urls, environment.retry_delays_ms,
            say=progress)
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.seed = seed
        self.scores = Scores(self.call.evaluation.criteria, seed)
        self.specs = {spec.ref: spec for spec in scenario.proposals}
        self.ids: dict[str, str] = {}  # scenario ref -> proposal id
        self.refs: dict[str, str] = {}  # proposal id -> ref
        self.actions: dict[str, list] = defaultdict(list)  # ref -> what the applicant did
        self._ids_lock = threading.Lock()
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}  # phase -> seconds (benchmarks read them)
        self.milestones: dict[str, float] = {}  # milestone -> seconds from firing to settled

    # ------------------------------------------------------------------ helpers
    def key(self, *parts) -> str:
        """The Idempotency-Key of one action of this scenario and seed: the same when a
        resumed run takes the action again."""
        return stable_key(self.scenario.name, self.seed, self.call.id, *parts)

    def _parallel(self, function, items, label: str = "") -> list:
        """``function`` over ``items`` through the pool; results in the items' order."""
        items = list(items)
        results = [None] * len(items)
        with bar(len(items), label, self.progress_bar) as done:
            futures = {self.pool.submit(function, item): index
                       for index, item in enumerate(items)}
            for count, future in enumerate(as_completed(futures), 1):
                results[futures[future]] = future.result()
                done()
                self.observe(label, count, len(items))
        return results

    def _advance(self, instant: datetime, amid: str | None = None) -> None:
        """The clock to ``instant``, firing and settling the milestones on the way; ``amid``
        names the phase whose own work goes on around them (see ``milestone_apart``)."""
        if instant <= self.clock.now():
            return
        if amid is not None:
            self.milestone_apart(amid)
        self.driver.advance_to(instant, on_step=self._on_step if amid is None
                               else self._on_step_apart)

    def _on_step_apart(self, step) -> None:
        for key in self._on_step(step):
            self.milestone_apart(key)

    def _on_step(self, step) -> list[str]:
        """Records and reports the milestones a step fired; returns their keys."""
        # the milestones of this instant from the timetable, not from what the driver's
        # tick fired: the submission service's own timer may fire one a moment before that
        # tick (it then reports nothing, and at 1,000 proposals the deadline's stage time
        # went to "submission")
        keys = [m.key for m in self.driver.milestones()
                if m.at == step.at and m.key not in self.milestones] or [
            fired.get("milestone") if isinstance(fired, dict) else str(fired)
            for fired in step.fired]
        for key in keys:
            self.milestones[key] = round(self.milestones.get(key, 0) + step.seconds, 2)
        for key in keys:
            self.say(f"  {self._elapsed()}  {step.at.astimezone(self.call.zone):%Y-%m-%d %H:%M} "
                     f"{key}")
        return keys

    def _settle(self) -> None:
        self.driver.settle()

    def _elapsed(self) -> str:
        return f"[{time.monotonic() - self.started:5.1f}s]"

    def _timed(self, phase: str, started: float) -> None:
        self.timings[phase] = round(self.timings.get(phase, 0) + time.monotonic() - started, 2)
        self.phase_ended(phase)

    def _remember(self, ref: str, proposal_id: str) -> None:
        with self._ids_lock:
            self.ids[ref] = proposal_id
            self.refs[proposal_id] = ref

    # ------------------------------------------------------------------ phases
    def run(self, through: str = PHASES[-1]) -> dict:
        """The replay, then the operations report; ``through`` one of :data:`PHASES`
        stops after that phase (a benchmark measuring the first stages of a call too large
        to run to its end in one sitting): the report is then the call as it stands."""
        if through not in PHASES:
            raise ValueError(f"through: one of {', '.join(PHASES)}, not {through!r}")
        try:
            for phase in PHASES[:PHASES.index(through) + 1]:
                getattr(self, phase)()
            return self.report()
        finally:
            self.pool.shutdown(cancel_futures=True)  # an interrupted run acts no further
            self.people.close()

    def prepare(self) -> None:
        started = time.monotonic()
        publication = self.call.stage("publication").starts_at
        if not self._published():
            if self.clock.now() < publication - timedelta(hours=1) or not self.resume:
                self.clock.set(publication - timedelta(hours=1))
            self.people.must("submission", "POST", "/calls", key=self.key("call"),
                             json={"yaml": self.scenario.call_yaml})
            self._settle()
        elif not self.resume:
            raise ScenarioError(f"call {self.call.id} is already published on this stack: "
                                "reset it, or continue the run that published it (resume)")
        self._advance(publication)
        if self.scenario.experts:
            self.say(f"{self._elapsed()} call {self.call.id} v{self.call.version} loaded; "
                     f"{self._import_experts()} experts imported")
        self._advance(publication + timedelta(days=1))
        self._timed("publication", started)
        started = time.monotonic()
        if self.resume:
            self._find_drafts()
        missing = [spec for spec in self.scenario.proposals if spec.ref not in self.ids]
        self._parallel(self._create_draft, missing, "drafts")
        self.say(f"{self._elapsed()} {len(self.ids)} draft proposals"
                 + (f" ({len(self.ids) - len(missing)} found from before)" if self.resume
                    else " created"))
        self._timed("drafts", started)

    def _import_experts(self) -> int:
        """The pool in files of ``EXPERTS_PER_IMPORT``, as operations would send a large
        register: one request of 30,000 experts is over the import's 8 MB limit. An import
        matches rows by email, so the files add up to the pool one file would make."""
        experts, imported = list(self.scenario.experts), 0
        for first in range(0, len(experts), EXPERTS_PER_IMPORT):
            result = self.people.must("evaluation", "POST", "/experts/import",
                                      key=self.key("experts", first),
                                      json={"experts": experts[first:first + EXPERTS_PER_IMPORT]})
            imported += _count(result, "experts")
        return imported

    def _published(self) -> bool:
        calls = self.people.must("submission", "GET", "/calls")
        return any((c["id"] if isinstance(c, dict) else c) == self.call.id for c in calls)

    def _find_drafts(self) -> None:
        """The proposals a previous run created, matched to the scenario by acronym and
        title (what a person recognises their proposal by)."""
        by_content = {}
        for spec in self.scenario.proposals:
            by_content.setdefault((spec.content["acronym"], spec.content["title"]),
                                  []).append(spec.ref)
        def listing(params: dict) -> dict:
            # a bare list: a page shorter than asked is the last
            items = self.people.must("submission", "GET", "/proposals", params=params)
            return {"items": items, "has_more": len(items) == PAGE}

        # by position: by offset, each page read every proposal before it
        for page in pages_after(listing, {"call_id": self.call.id, "limit": PAGE}):
            for item in page:
                refs = by_content.get((item["acronym"], item["title"]), [])
                if len(refs) > 1:
                    raise ScenarioError(f"cannot resume: proposals {', '.join(refs)} have the "
                                        "same acronym and title")
                if refs:
                    self._remember(refs[0], item["id"])

    def _create_draft(self, spec: ProposalSpec) -> None:
        body = {"call_id": self.call.id, **spec.content,
                "parts": [_part(name, spec) for name in spec.parts]}
        created = self.people.must("submission", "POST", "/proposals", role="applicant",
                                   email=spec.contact_email, json=body,
                                   key=self.key("draft", spec.ref))
        self._remember(spec.ref, created["id"])

    # ------------------------------------------------------------------ applicants
    def applicants(self) -> None:
        """Applicant actions in time order, the clock advancing to each instant; the
        actions of one instant at once, then one settle."""
        started = time.monotonic()
        by_instant = defaultdict(list)
        for spec in self.scenario.proposals:
            for index, action in enumerate(spec.actions):
                by_instant[action.at].append((spec, index, action))
        seen = self._proposals_as_they_are(by_instant) if self.resume else {}
        done = refused = 0
        for instant in sorted(by_instant):
            self._advance(instant, amid="applicants")
            items = [(spec, index, action, seen.get(spec.ref))
                     for spec, index, action in by_instant[instant]]
            label = f"{instant.astimezone(self.call.zone):%d %b %H:%M}"
            for outcome in self._parallel(lambda item: self._act(*item), items, label):
                done += 1
                refused += not outcome
            self._settle()
        self.say(f"{self._elapsed()} {done} applicant actions ({refused} refused, e.g. late)")
        self._timed("applicants", started)

    def _proposals_as_they_are(self, by_instant) -> dict[str, dict]:
        """For a resumed run: each proposal with an action due by now, as the service holds
        it (to tell which of those actions took effect)."""
        now = self.clock.now()
        refs = sorted({spec.ref for instant, items in by_instant.items() if instant <= now
                       for spec, _, _ in items if spec.ref in self.ids})

        def fetch(ref):
            return ref, self.people.must("submission", "GET", f"/proposals/{self.ids[ref]}")
        return dict(self._parallel(fetch, refs, "reading proposals"))

    def _act(self, spec: ProposalSpec, index: int, action, seen: dict | None) -> bool:
        if seen is not None and _took_effect(action, seen):
            self._record(spec, action, Answer(200, {}, replayed=True))
            return True
        proposal_id = self.ids[spec.ref]
        applicant = {"role": "applicant", "email": spec.contact_email}
        if action.do == "resubmit" and action.change:
            patched = self.people.call("submission", "PATCH", f"/proposals/{proposal_id}",
                                       json=action.change, key=self.key("edit", spec.ref, index),
                                       **applicant)
            if not patched.ok:
                self._record(spec, action, patched)
                return False
        if action.do in ("submit", "resubmit"):
            answer = self.people.call("submission", "POST", f"/proposals/{proposal_id}/submit",
                                      key=self.key("submit", spec.ref, index), **applicant)
        else:
            answer = self.people.call("submission", "POST", f"/proposals/{proposal_id}/withdraw",
                                      json={"reason": action.reason},
                                      key=self.key("withdraw", spec.ref, index), **applicant)
        self._record(spec, action, answer)
        return answer.ok

    def _record(self, spec, action, answer) -> None:
        entry = {"at": action.at.isoformat(), "do": action.do, "status": answer.status}
        if not answer.ok and isinstance(answer.body, dict):
            entry["refused"] = answer.body.get("message") or answer.body.get("error")
        with self._ids_lock:
            self.actions[spec.ref].append(entry)

    # ------------------------------------------------------------------ evaluation
    def assignment(self) -> None:
        """To the start of evaluation: the deadline's aftermath, then the assignment."""
        started = time.monotonic()
        self._advance(self.call.stage("evaluation").starts_at, amid="deadline_to_assigned")
        self._timed("deadline_to_assigned", started)

    def evaluation(self) -> None:
        started = time.monotonic()
        start = self.call.stage("evaluation").starts_at
        end = self.call.stage("evaluation").ends_at
        self._advance(min(start + timedelta(days=self.scenario.report_after_days),
                          end - timedelta(days=1)))
        experts = {e["id"]: e for e in self.people.must("evaluation", "GET", "/experts")}
        acted: set[tuple[str, str]] = set()
        released: set[str] = set()  # proposals where the scenario's conflict/decline happened
        if self.resume:
            acted, released = self._evaluations_as_they_are()
        for round_number in range(MAX_ROUNDS):
            assignments = self.people.must("evaluation", "GET", "/assignments")
            pending = [a for a in assignments if (a["proposal_id"], a["expert_id"]) not in acted]
            spreads = self._spreads_to_resolve({a["proposal_id"] for a in pending})
            if not pending and not spreads:
                break
            by_proposal = defaultdict(list)
            for assignment in pending:
                by_proposal[assignment["proposal_id"]].append(assignment)
            # every proposal's first report, then every second one, ...: evaluators each
            # working through their own list do not send a proposal's reports at the same
            # moment, to queue on its row (no faster at 1,000: the stage is CPU-bound)
            waves: list[list] = []
            for proposal_id, items in sorted(by_proposal.items()):
                items.sort(key=lambda a: experts[a["expert_id"]]["email"])
                for index, assignment in enumerate(items):
                    acted.add((proposal_id, assignment["expert_id"]))
                    if index == len(waves):
                        waves.append([])
                    waves[index].append((assignment, experts[assignment["expert_id"]],
                                         index == 0 and proposal_id not in released))
            work = [item for wave in waves for item in wave]
            outcomes = self._parallel(lambda item: self._evaluate(*item), work,
                                      f"evaluation round {round_number + 1}")
            released |= {proposal_id for proposal_id, kind in outcomes
                         if kind in ("conflict", "decline")}
            self._parallel(self._resolve_spread, spreads, "spreads")
            self._settle()
            self.say(f"{self._elapsed()} evaluation round {round_number + 1}: "
                     f"{sum(k == 'report' for _, k in outcomes)} reports, "
                     f"{sum(k == 'conflict' for _, k in outcomes)} conflicts declared, "
                     f"{sum(k == 'decline' for _, k in outcomes)} declined, "
                     f"{len(spreads)} spreads resolved")
        self._timed("reports", started)
        started = time.monotonic()
        self._advance(end)
        self._timed("ranking", started)

    def _evaluations_as_they_are(self) -> tuple[set, set]:
        """For a resumed run: the final reports already written (their experts are done,
        their score slots taken) and the proposals whose scripted conflict or decline
        already happened."""
        acted, released = set(), set()

        def fetch(proposal_id):
            answer = self.people.call("evaluation", "GET", f"/proposals/{proposal_id}/evaluation")
            return proposal_id, answer.body if answer.ok else None

        for proposal_id, view in self._parallel(fetch, sorted(self.refs), "reading evaluations"):
            if not isinstance(view, dict):
                continue
            spec = self.specs.get(self.refs[proposal_id])
            finals = [r for r in view.get("reports", [])
                      if r.get("final") and r.get("kind", "individual") == "individual"]
            acted |= {(proposal_id, r["expert_id"]) for r in finals}
            self.scores.found(proposal_id, spec.ref if spec else None,
                              spec.evaluation if spec else None, [r["scores"] for r in finals])
            if any(a.get("release_reason") in ("conflict_declared", "declined")
                   for a in view.get("assignments", [])):
                released.add(proposal_id)
        return acted, released

    def _evaluate(self, assignment: dict, expert: dict, first: bool) -> tuple[str, str]:
        proposal_id = assignment["proposal_id"]
        ref = self.refs.get(proposal_id)
        spec = self.specs.get(ref) if ref else None
        behaviour = spec.evaluation if spec else None
        evaluator = {"role": "evaluator", "email": expert["email"]}
        base = f"/me/assignments/{proposal_id}"
        if behaviour and _chosen(behaviour.conflicts, expert["email"], first):
            self._must_or_done("evaluation", "POST", f"{base}/conflict", json={
                "reason": "I advised one of the partners on this project"},
                key=self.key("conflict", ref, expert["email"]), **evaluator)
            return proposal_id, "conflict"
        if behaviour and _chosen(behaviour.declines, expert["email"], first):
            self._must_or_done("evaluation", "POST", f"{base}/decline",
                               json={"reason": "not available in this period"},
                               key=self.key("decline", ref, expert["email"]), **evaluator)
            return proposal_id, "decline"
        # the n-th report on a proposal always gets the same scores, whoever the solver
        # picked and whatever the thread order, so a seed gives the same outcome every run
        nth = self.scores.take(proposal_id)
        criteria = {c.id: {"score": str(score), "comment": _comment(c.title, score, c.max_points)}
                    for c, score in self.scores.draw(ref, behaviour, nth).items()}
        saved = self.people.call("evaluation", "PUT", f"{base}/report",
                                 json={"criteria": criteria, "final": True},
                                 key=self.key("report", ref, expert["email"], nth), **evaluator)
        if saved.status == 404:  # released meanwhile (the proposal was withdrawn)
            return proposal_id, "released"
        if saved.status == 409 and (saved.retried or self.resume):
            return proposal_id, "report"  # an earlier attempt went through: final already
        if not saved.ok:
            raise ScenarioError(f"report on {proposal_id} by {expert['email']} refused: "
                                f"{saved.status} {saved.body}")
        return proposal_id, "report"

    def _must_or_done(self, service: str, method: str, path: str, **kwargs) -> Answer:
        """A command that may have been taken already (by the attempt before a lost
        answer, or before an interruption): then 404/409 means done, not refused. A service
        that honours Idempotency-Key answers such a repeat with the first answer instead."""
        answer = self.people.call(service, method, path, **kwargs)
        if not answer.ok and not ((self.resume or answer.retried)
                                  and answer.status in (404, 409)):
            self.people.must(service, method, path, **kwargs)  # raises with the detail
        return answer

    def _spreads_to_resolve(self, pending: set[str]) -> list[str]:
        """Proposals whose consensus waits on a flagged spread: only those still
        incomplete with no report to come are asked about."""
        topics = self.people.must("evaluation", "GET", f"/calls/{self.call.id}/topics")
        candidates = sorted({p for topic in topics for p in topic["incomplete"]} - pending)

        def flagged(proposal_id):
            answer = self.people.call("evaluation", "GET", f"/proposals/{proposal_id}/evaluation")
            return answer.ok and isinstance(answer.body, dict) and \
                answer.body.get("consensus_state") == "needs_spread_resolution"
        return [p for p, f in zip(candidates, self._parallel(flagged, candidates)) if f]

    def _resolve_spread(self, proposal_id: str) -> None:
        key = self.key("spread", self.refs.get(proposal_id, proposal_id))
        if self.scenario.spread_resolution == "extra_evaluator":
            self._must_or_done("evaluation", "POST",
                               f"/proposals/{proposal_id}/extra-evaluator", json={}, key=key)
        else:
            self._must_or_done("evaluation", "POST", f"/proposals/{proposal_id}/consensus-note",
                               key=key, json={"text": "The panel discussed the diverging scores "
                                                      "and agreed that the mean reflects the "
                                                      "proposal."})

    # ------------------------------------------------------------------ grants
    def grants(self) -> None:
        started = time.monotonic()
        information = self.call.stage("information_to_applicants").starts_at
        # a resumed run that stopped inside a grant round finishes that round first
        act_now = self.resume and self.clock.now() > information
        self._advance(information)
        self._timed("letters", started)
        started = time.monotonic()
        wait = timedelta(days=self.scenario.act_after_days)
        for round_number in range(MAX_ROUNDS):
            if not act_now:
                self._advance(self.clock.now() + wait)
            act_now = False
            files = self.people.must("grants", "GET", "/grants",
                                     params={"call_id": self.call.id})["grants"]
            fresh = [f for f in files if self._grant_steps(f)]
            due = [f for f in fresh if _invited_before_the_round(f, self.clock.now(), wait)]
            if fresh and not due:
                continue  # invited by this round's declines: their people act next round
            if not fresh:
                # nobody left to act: let the deadlines of files nobody acted on pass
                open_files = [f for f in files if f["state"] not in _ENDED]
                if not open_files:
                    break
                latest = max(datetime.fromisoformat(_deadline(f)) for f in open_files)
                self._advance(latest + timedelta(minutes=1))
                continue
            outcomes = self._parallel(self._coordinate, due, f"grant round {round_number + 1}")
            self._settle()
            self.say(f"{self._elapsed()} grant round {round_number + 1}: "
                     f"{outcomes.count('sign')} signed, {outcomes.count('decline')} declined")
        self._advance(max(self.call.stage("signature").ends_at, self.clock.now()))
        self._timed("grants", started)

    def _grant_steps(self, grant: dict) -> list[str]:
        """What the scenario still has this file's people do, given its state."""
        ref = self.refs.get(grant["proposal_id"])
        spec = self.specs.get(ref) if ref else None
        state = grant["state"]
        if spec is None:
            return []
        if spec.grant == "decline":
            return ["decline"] if state in ("invited", "data_confirmed") else []
        if spec.grant != "sign":
            return []
        steps = {"invited": ["confirm", "sign"], "data_confirmed": ["sign"],
                 "coordinator_signed": []}.get(state)
        if steps is None:
            return []
        return steps + (["authority-sign"] if self.scenario.authority == "sign" else [])

    def _coordinate(self, grant: dict) -> str:
        ref = self.refs[grant["proposal_id"]]
        path = f"/grants/{grant['grant_id']}"
        coordinator = {"role": "applicant", "email": grant["coordinator_email"]}
        for step in self._grant_steps(grant):
            who = {"email": AUTHORITY_EMAIL} if step == "authority-sign" else coordinator
            body = {"reason": "the consortium cannot provide its co-financing"} \
                if step == "decline" else {}
            self._must_or_done("grants", "POST", f"{path}/{step}", json=body,
                               key=self.key("grant", ref, step), **who)
        return self.specs[ref].grant

    # ------------------------------------------------------------------ the end
    def finish(self) -> None:
        """The last settle also waits for every message to be accepted by the SMTP server."""
        started = time.monotonic()
        self._settle()
        self.say(f"{self._elapsed()} pipeline settled, every message handed to the SMTP server")
        self._timed("finish", started)

    def report(self) -> dict:
        report = self.people.must("operations", "GET", f"/calls/{self.call.id}/report")
        for entry in report["proposals"]:
            entry["ref"] = self.refs.get(entry["id"])
            entry["actions"] = sorted(self.actions.get(entry["ref"], []),
                                      key=lambda a: (a["at"], a["do"]))
        submitted = {p["id"] for p in report["proposals"]}
        report["not_submitted"] = sorted(
            ref for ref, proposal_id in self.ids.items() if proposal_id not in submitted)
        if self.with_notifications:
            report["notifications"] = self.notifications()
        report["scenario"] = {"name": self.scenario.name, "description": self.scenario.description}
        return report

    def notifications(self) -> dict[str, list[dict]]:
        """Every message each person received, by address: page after page, each after
        the last delivery of the one before (by offset each page read every row before
        it again: the 175,000 messages of a 10,000-proposal call took 41 s against 3 s,
        ``bench/delivery_listing.py``)."""
        received: dict[str, list[dict]] = defaultdict(list)
        for items in pages_after(lambda params: self.people.must(
                "notifications", "GET", "/notifications", params=params),
                {"call_id": self.call.id, "limit": 500}):
            for item in items:
                received[item["recipient"]].append(
                    {"template": item["template"], "subject": item["subject"],
                     "status": item["status"], "proposal_id": item.get("proposal_id")})
        return dict(received)


_ENDED = {"signed", "declined", "withdrawn", "expired"}


def _took_effect(action, proposal: dict) -> bool:
    """Does the service show this applicant action done (a resumed run skips it)?"""
    if action.do == "withdraw":
        return proposal.get("state") == "withdrawn"
    return any(datetime.fromisoformat(v["received_at"]) == action.at
               for v in proposal.get("versions") or [])


def _invited_before_the_round(grant: dict, now: datetime, wait: timedelta) -> bool:
    """Whether a round at ``now`` acts on this file. A reserve proposal promoted by a
    decline in this round is invited at this very instant; its people act a round later.
    The file list alone cannot say so: a run resumed amid the round lists that file before
    its round starts, where the uninterrupted run listed the files before the declines.
    With no wait between rounds, people act the instant they are invited."""
    return not wait or datetime.fromisoformat(grant["invited_at"]) < now


def _deadline(grant: dict) -> str:
    step = grant.get("next_step") or {}
    return step.get("due_at") or grant.get("signature_deadline") or grant["preparation_deadline"]


def _chosen(who: tuple[str, ...], email: str, first: bool) -> bool:
    return email in who or ("any" in who and first)


def _part(name: str, spec: ProposalSpec) -> dict:
    text = f"{name} of {spec.content['acronym']}: {spec.content['title']}\n".encode()
    return {"name": name, "filename": f"{name}.txt",
            "content_base64": base64.b64encode(text).decode()}


def _comment(title: str, score: Decimal, maximum: Decimal) -> str:
    share = float(score) / float(maximum) if maximum else 0
    judgement = ("excellent" if share >= 0.85 else "good" if share >= 0.7 else
                 "fair" if share >= 0.5 else "weak")
    return f"{title}: {judgement} overall; the proposal addresses this criterion " \
           f"{'convincingly' if share >= 0.7 else 'only in part'}."


def _count(result, key: str) -> int:
    if isinstance(result, dict):
        value = result.get(key) or result.get("imported") or result.get("added")
        return len(value) if isinstance(value, list) else int(value or 0)
    return len(result) if isinstance(result, list) else 0
