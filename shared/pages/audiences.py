"""Who the pages are for, and where each service's pages live.

Two audiences sign in: applicants (``/apply/``, signed in by the submission service) and
evaluators (``/review/``, signed in by the evaluation service). A session cookie is
scoped to its audience's path (``Path=/apply`` or ``Path=/review``), and browsers do not
scope cookies by port: every service on the same host that serves pages under that path
reads the same session, checking it with the secret all services share. So an
applicant's outcome page (evaluation) and grant steps (grants) live under ``/apply/``
too, in URL spaces that do not overlap, so that one reverse proxy can route a single
origin by path prefix.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Audience:
    name: str  # the token audience and the URL prefix without slashes
    role: str  # the Principal role a session of this audience carries
    service: str  # the service that signs people in (mails links, exchanges them)
    cookie: str  # the session cookie's name

    @property
    def path(self) -> str:
        """URL prefix and the session cookie's ``Path``."""
        return f"/{self.name}"


APPLY = Audience("apply", "applicant", "submission", "gf_apply")
REVIEW = Audience("review", "evaluator", "evaluation", "gf_review")
AUDIENCES = {audience.name: audience for audience in (APPLY, REVIEW)}

#: each service's pages, by URL prefix (none overlaps another service's), and where it
#: serves the shared static files (CSP ``'self'``: every origin serves its own copy)
PAGE_PREFIXES = {
    # everything under /apply/ not claimed below; /review/parts/: a proposal's parts for
    # its evaluators (submission keeps the parts, evaluation the assignments)
    "submission": ("/apply/", "/review/parts/"),
    "evaluation": ("/review/", "/apply/results/"),
    "grants": ("/apply/grants/",),
}
STATIC_PREFIX = {
    "submission": "/apply/static",
    "evaluation": "/review/static",
    "grants": "/apply/grants/static",
}
