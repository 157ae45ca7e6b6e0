"""Run a scenario through the real services, broker and simulated clock (docs/scenarios.md).

The runner acts for applicants, evaluators, coordinators and the granting authority over
the services' HTTP APIs, and moves the shared clock with the timetable driver, which fires
every milestone in order and waits for the pipeline to settle after each one. It never
reads a service's database: what it reports comes from the operations and notifications
services, as an operations team would see it.
"""
from __future__ import annotations

import base64
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

from grantflow.scenario.client import People
from grantflow.scenario.environment import Environment
from grantflow.scenario.model import ProposalSpec, Scenario
from grantflow.timetable import TimetableDriver
from shared.calls.loader import load_call_text

AUTHORITY_EMAIL = "authority@grantflow.example"
MAX_ROUNDS = 12


class ScenarioError(RuntimeError):
    pass


class ScenarioRunner:
    def __init__(self, scenario: Scenario, environment: Environment,
                 progress: Callable[[str], None] = lambda line: None, workers: int = 8,
                 seed: int = 0):
        self.scenario = scenario
        self.env = environment
        self.say = progress
        self.people = People(environment.service_urls, environment.auth_secret)
        self.call = load_call_text(scenario.call_yaml)
        self.clock = environment.clock
        self.driver = TimetableDriver(
            self.clock, environment.service_urls["submission"],
            self.people.token("operations", "operations@grantflow.example"),
            environment.amqp_uri, environment.service_urls, environment.retry_delays_ms)
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.seed = seed
        self._reports: dict[str, int] = defaultdict(int)
        self._reports_lock = threading.Lock()
        self.ids: dict[str, str] = {}  # scenario ref -> proposal id
        self.refs: dict[str, str] = {}  # proposal id -> ref
        self.actions: dict[str, list] = defaultdict(list)  # ref -> what the applicant did
        self.started = time.monotonic()

    # ------------------------------------------------------------------ helpers
    def _parallel(self, function, items) -> list:
        return list(self.pool.map(function, items))

    def _advance(self, instant: datetime) -> None:
        if instant <= self.clock.now():
            return
        self.driver.advance_to(instant, on_step=self._on_step)

    def _on_step(self, step) -> None:
        for fired in step.fired:
            key = fired.get("milestone") if isinstance(fired, dict) else str(fired)
            self.say(f"  {self._elapsed()}  {step.at.astimezone(self.call.zone):%Y-%m-%d %H:%M} "
                     f"{key}")

    def _settle(self) -> None:
        self.driver.settle()

    def _elapsed(self) -> str:
        return f"[{time.monotonic() - self.started:5.1f}s]"

    # ------------------------------------------------------------------ phases
    def run(self) -> dict:
        try:
            self.prepare()
            self.applicants()
            self.evaluation()
            self.grants()
            self.finish()
            return self.report()
        finally:
            self.pool.shutdown()
            self.people.close()

    def prepare(self) -> None:
        publication = self.call.stage("publication").starts_at
        self.clock.set(publication - timedelta(hours=1))
        self.people.must("submission", "POST", "/calls", json={"yaml": self.scenario.call_yaml})
        self._settle()
        self._advance(publication)
        if self.scenario.experts:
            result = self.people.must("evaluation", "POST", "/experts/import",
                                      json={"experts": list(self.scenario.experts)})
            self.say(f"{self._elapsed()} call {self.call.id} v{self.call.version} loaded; "
                     f"{_count(result, 'experts')} experts imported")
        self._advance(publication + timedelta(days=1))
        self._parallel(self._create_draft, self.scenario.proposals)
        self.say(f"{self._elapsed()} {len(self.ids)} draft proposals created")

    def _create_draft(self, spec: ProposalSpec) -> None:
        body = {"call_id": self.call.id, **spec.content,
                "parts": [_part(name, spec) for name in spec.parts]}
        created = self.people.must("submission", "POST", "/proposals", role="applicant",
                                   email=spec.contact_email, json=body)
        self.ids[spec.ref] = created["id"]
        self.refs[created["id"]] = spec.ref

    def applicants(self) -> None:
        """Applicant actions in time order, the clock advancing to each instant."""
        by_instant = defaultdict(list)
        for spec in self.scenario.proposals:
            for action in spec.actions:
                by_instant[action.at].append((spec, action))
        done = refused = 0
        for instant in sorted(by_instant):
            self._advance(instant)
            for outcome in self._parallel(lambda item: self._act(*item), by_instant[instant]):
                done += 1
                refused += not outcome
        self._settle()
        self.say(f"{self._elapsed()} {done} applicant actions ({refused} refused, e.g. late)")

    def _act(self, spec: ProposalSpec, action) -> bool:
        proposal_id = self.ids[spec.ref]
        applicant = {"role": "applicant", "email": spec.contact_email}
        if action.do == "resubmit" and action.change:
            patched = self.people.call("submission", "PATCH", f"/proposals/{proposal_id}",
                                       json=action.change, **applicant)
            if not patched.ok:
                self._record(spec, action, patched)
                return False
        if action.do in ("submit", "resubmit"):
            answer = self.people.call("submission", "POST", f"/proposals/{proposal_id}/submit",
                                      **applicant)
        else:
            answer = self.people.call("submission", "POST", f"/proposals/{proposal_id}/withdraw",
                                      json={"reason": action.reason}, **applicant)
        self._record(spec, action, answer)
        return answer.ok

    def _record(self, spec, action, answer) -> None:
        entry = {"at": action.at.isoformat(), "do": action.do, "status": answer.status}
        if not answer.ok and isinstance(answer.body, dict):
            entry["refused"] = answer.body.get("message") or answer.body.get("error")
        self.actions[spec.ref].append(entry)

    # ------------------------------------------------------------------ evaluation
    def evaluation(self) -> None:
        start = self.call.stage("evaluation").starts_at
        end = self.call.stage("evaluation").ends_at
        self._advance(start)
        self._advance(min(start + timedelta(days=self.scenario.report_after_days),
                          end - timedelta(days=1)))
        experts = {e["id"]: e for e in self.people.must("evaluation", "GET", "/experts")}
        acted: set[tuple[str, str]] = set()
        released: set[str] = set()  # proposals where the scenario's conflict/decline happened
        for round_number in range(MAX_ROUNDS):
            pending = [a for a in self.people.must("evaluation", "GET", "/assignments")
                       if (a["proposal_id"], a["expert_id"]) not in acted]
            spreads = self._spreads_to_resolve()
            if not pending and not spreads:
                break
            by_proposal = defaultdict(list)
            for assignment in pending:
                by_proposal[assignment["proposal_id"]].append(assignment)
            work = []
            for proposal_id, items in by_proposal.items():
                items.sort(key=lambda a: experts[a["expert_id"]]["email"])
                for index, assignment in enumerate(items):
                    acted.add((proposal_id, assignment["expert_id"]))
                    work.append((assignment, experts[assignment["expert_id"]],
                                 index == 0 and proposal_id not in released))
            outcomes = self._parallel(lambda item: self._evaluate(*item), work)
            released |= {proposal_id for proposal_id, kind in outcomes
                         if kind in ("conflict", "decline")}
            for proposal_id in spreads:
                self._resolve_spread(proposal_id)
            self._settle()
            self.say(f"{self._elapsed()} evaluation round {round_number + 1}: "
                     f"{sum(k == 'report' for _, k in outcomes)} reports, "
                     f"{sum(k == 'conflict' for _, k in outcomes)} conflicts declared, "
                     f"{sum(k == 'decline' for _, k in outcomes)} declined, "
                     f"{len(spreads)} spreads resolved")
        self._advance(end)

    def _evaluate(self, assignment: dict, expert: dict, first: bool) -> tuple[str, str]:
        proposal_id = assignment["proposal_id"]
        spec = self.scenario.proposal(self.refs[proposal_id]) if proposal_id in self.refs else None
        behaviour = spec.evaluation if spec else None
        evaluator = {"role": "evaluator", "email": expert["email"]}
        base = f"/me/assignments/{proposal_id}"
        if behaviour and _chosen(behaviour.conflicts, expert["email"], first):
            self.people.must("evaluation", "POST", f"{base}/conflict", json={
                "reason": "I advised one of the partners on this project"}, **evaluator)
            return proposal_id, "conflict"
        if behaviour and _chosen(behaviour.declines, expert["email"], first):
            self.people.must("evaluation", "POST", f"{base}/decline",
                             json={"reason": "not available in this period"}, **evaluator)
            return proposal_id, "decline"
        # the n-th report on a proposal always gets the same scores, whoever the solver
        # picked and whatever the thread order, so a seed gives the same outcome every run
        with self._reports_lock:
            nth = self._reports[proposal_id]
            self._reports[proposal_id] += 1
        rng = random.Random(f"{self.seed}:{self.refs.get(proposal_id)}:{nth}")
        criteria = {c.id: {"score": str(score), "comment": _comment(c.title, score, c.max_points)}
                    for c, score in self._scores(behaviour, rng, nth).items()}
        saved = self.people.call("evaluation", "PUT", f"{base}/report",
                                 json={"criteria": criteria, "final": False}, **evaluator)
        if saved.status == 404:  # released meanwhile (the proposal was withdrawn)
            return proposal_id, "released"
        if not saved.ok:
            raise ScenarioError(f"report on {proposal_id} by {expert['email']} refused: "
                                f"{saved.status} {saved.body}")
        self.people.must("evaluation", "POST", f"{base}/report/final", json={}, **evaluator)
        return proposal_id, "report"

    def _scores(self, behaviour, rng: random.Random, nth: int) -> dict:
        quality = behaviour.quality if behaviour else 75.0
        spread = behaviour.spread if behaviour else 3.0
        explicit = behaviour.scores[nth % len(behaviour.scores)] \
            if behaviour and behaviour.scores else {}
        scores = {}
        for criterion in self.call.evaluation.criteria:
            maximum = float(criterion.max_points)
            if criterion.id in explicit:
                value = float(explicit[criterion.id])
            else:
                value = maximum * quality / 100 + rng.uniform(-spread, spread) * maximum / 100
            value = min(maximum, max(0.0, value))
            scores[criterion] = Decimal(str(value * 2)).quantize(Decimal("1"),
                                                                  rounding=ROUND_HALF_UP) / 2
        return scores

    def _spreads_to_resolve(self) -> list[str]:
        """Proposals whose consensus waits on a flagged spread: only those still
        incomplete are asked about (one request for the list, one per candidate)."""
        topics = self.people.must("evaluation", "GET", f"/calls/{self.call.id}/topics")
        found = []
        for proposal_id in sorted({p for topic in topics for p in topic["incomplete"]}):
            answer = self.people.call("evaluation", "GET", f"/proposals/{proposal_id}/evaluation")
            if answer.ok and isinstance(answer.body, dict) and \
                    answer.body.get("consensus_state") == "needs_spread_resolution":
                found.append(proposal_id)
        return found

    def _resolve_spread(self, proposal_id: str) -> None:
        if self.scenario.spread_resolution == "extra_evaluator":
            self.people.must("evaluation", "POST", f"/proposals/{proposal_id}/extra-evaluator",
                             json={})
        else:
            self.people.must("evaluation", "POST", f"/proposals/{proposal_id}/consensus-note",
                             json={"text": "The panel discussed the diverging scores and "
                                           "agreed that the mean reflects the proposal."})

    # ------------------------------------------------------------------ grants
    def grants(self) -> None:
        self._advance(self.call.stage("information_to_applicants").starts_at)
        acted: set[str] = set()
        for round_number in range(MAX_ROUNDS):
            self._advance(self.clock.now() + timedelta(days=self.scenario.act_after_days))
            files = self.people.must("grants", "GET", "/grants",
                                     params={"call_id": self.call.id})["grants"]
            fresh = [f for f in files if f["grant_id"] not in acted and f["state"] == "invited"]
            if not fresh:
                # nobody left to act: let the deadlines of files nobody acted on pass
                open_files = [f for f in files if f["state"] not in _ENDED]
                if not open_files:
                    break
                latest = max(datetime.fromisoformat(_deadline(f)) for f in open_files)
                self._advance(latest + timedelta(minutes=1))
                continue
            acted |= {f["grant_id"] for f in fresh}
            outcomes = self._parallel(self._coordinate, fresh)
            self._settle()
            self.say(f"{self._elapsed()} grant round {round_number + 1}: "
                     f"{outcomes.count('sign')} signed, {outcomes.count('decline')} declined, "
                     f"{outcomes.count('ignore')} left to expire")
        self._advance(max(self.call.stage("signature").ends_at, self.clock.now()))

    def _coordinate(self, grant: dict) -> str:
        proposal_id = grant["proposal_id"]
        spec = self.scenario.proposal(self.refs[proposal_id])
        coordinator = {"role": "applicant", "email": grant["coordinator_email"]}
        path = f"/grants/{grant['grant_id']}"
        if spec.grant == "decline":
            self.people.must("grants", "POST", f"{path}/decline",
                             json={"reason": "the consortium cannot provide its co-financing"},
                             **coordinator)
        elif spec.grant == "sign":
            self.people.must("grants", "POST", f"{path}/confirm", json={}, **coordinator)
            self.people.must("grants", "POST", f"{path}/sign", json={}, **coordinator)
            if self.scenario.authority == "sign":
                self.people.must("grants", "POST", f"{path}/authority-sign", json={},
                                 email=AUTHORITY_EMAIL)
        return spec.grant

    # ------------------------------------------------------------------ the end
    def finish(self) -> None:
        self._settle()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            pending = sum(self.people.must("notifications", "GET", "/notifications",
                                           params={"status": status, "limit": 1})["total"]
                          for status in ("queued", "sending"))
            if not pending:
                break
            time.sleep(0.5)
        self.say(f"{self._elapsed()} pipeline settled, every message handed to the SMTP server")

    def report(self) -> dict:
        report = self.people.must("operations", "GET", f"/calls/{self.call.id}/report")
        for entry in report["proposals"]:
            entry["ref"] = self.refs.get(entry["id"])
            entry["actions"] = self.actions.get(entry["ref"], [])
        report["not_submitted"] = sorted(
            ref for ref, proposal_id in self.ids.items()
            if proposal_id not in {p["id"] for p in report["proposals"]})
        report["notifications"] = self.notifications()
        report["scenario"] = {"name": self.scenario.name, "description": self.scenario.description}
        return report

    def notifications(self) -> dict[str, list[dict]]:
        """Every message each person received, by address."""
        received: dict[str, list[dict]] = defaultdict(list)
        offset = 0
        while True:
            page = self.people.must("notifications", "GET", "/notifications",
                                    params={"call_id": self.call.id, "limit": 500,
                                            "offset": offset})
            for item in page["items"]:
                received[item["recipient"]].append(
                    {"template": item["template"], "subject": item["subject"],
                     "status": item["status"], "proposal_id": item.get("proposal_id")})
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return dict(received)


_ENDED = {"signed", "declined", "withdrawn", "expired"}


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
