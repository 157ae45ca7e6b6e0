"""The people's pages for operators: where each service serves them, and sign-in links
minted directly with the deployment's secret (the demo lists some in its report, so a
person can look at the pages as an applicant or an evaluator of the replayed call).

A link is what the mail would carry: single use, valid ``PAGES.sign_in_minutes`` (30)
on the wall clock, and checked by the running signing service (submission for
applicants, evaluation for evaluators).
"""
from __future__ import annotations

from typing import Iterable

from shared.config import base_url, env, var_dir
from shared.auth import DEFAULT_DEV_SECRET
from shared.pages.audiences import APPLY, REVIEW
from shared.pages.settings import PageSettings
from shared.pages.signin import sign_in_link


def page_addresses() -> dict[str, str]:
    """Each entry point of the pages on this stack (``GRANTFLOW_<SVC>_URL``/ports)."""
    return {"applicants": f"{base_url('submission')}/apply/",
            "evaluators": f"{base_url('evaluation')}/review/",
            "applicants' results": f"{base_url('evaluation')}/apply/results/<proposal id>",
            "applicants' grants": f"{base_url('grants')}/apply/grants/"}


def settings() -> PageSettings:
    return PageSettings.from_config({
        "AUTH_SECRET": env("AUTH_SECRET", DEFAULT_DEV_SECRET),
        "SERVICE_URLS": {name: base_url(name) for name in ("submission", "evaluation",
                                                           "grants")}})


def sign_in_links(applicants: Iterable[str], evaluators: Iterable[str]) -> list[dict]:
    """A fresh link for each address: ``{role, email, link}``."""
    pages = settings()
    return ([{"role": "applicant", "email": email,
              "link": sign_in_link(pages, email, APPLY, "/apply/")} for email in applicants]
            + [{"role": "evaluator", "email": email,
                "link": sign_in_link(pages, email, REVIEW, "/review/")}
               for email in evaluators])


def demo_pages(scenario, report: dict, say=print, per_role: int = 3) -> dict:
    """What the demo prints and reports about the pages: their addresses, and sign-in
    links for a few coordinators (granted ones first) and experts of the replay."""
    granted = {p["ref"] for p in report.get("proposals", [])
               if p.get("final_state") == "grant_signed"}
    ordered = sorted(scenario.proposals, key=lambda p: (p.ref not in granted, p.ref))
    applicants = list(dict.fromkeys(p.content["coordinator"]["contact_email"].lower()
                                    for p in ordered))[:per_role]
    evaluators = [e["email"].lower() for e in scenario.experts[:per_role]]
    addresses, links = page_addresses(), sign_in_links(applicants, evaluators)
    say("pages:")
    for name, url in addresses.items():
        say(f"  {name:20} {url}")
    say(f"sign-in links (each works once within {settings().sign_in_ttl.seconds // 60} "
        "minutes, while the services run: `grantflow demo --keep-running`, or "
        f"`GRANTFLOW_VAR={var_dir()} grantflow up`):")
    for item in links:
        say(f"  {item['role']:10} {item['email']:40} {item['link']}")
    return {"addresses": addresses, "sign_in_links": links}
