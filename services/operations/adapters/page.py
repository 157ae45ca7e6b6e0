"""The operations page: one self-contained HTML document (template, style and script
inline; no CDN, no build step). It holds no data: its script asks the JSON API with the
bearer token the person gives (or a link's ``#token=`` fragment, which browsers never send
to the server), so tokens never travel in a URL's path or query and never reach a log.

Its texts are msgids of the pages' catalogue (:mod:`shared.pages.i18n`), in the language
the browser asks for: the template's own, and :data:`SCRIPT_TEXTS`, which the template
hands to the script translated, as JSON in a ``<script type="application/json">`` (data,
never run); the script fills in their ``%(name)s`` placeholders."""
from __future__ import annotations

import secrets
from pathlib import Path

from werkzeug.wrappers import Response

from shared.pages import rendering
from shared.pages.i18n import DEFAULT_LOCALE, N_, translations

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
DEFAULT_REFRESH_MS = 5000

#: what operations.js shows, by the key it asks for
SCRIPT_TEXTS = {
    "ask_token": N_("Give an operations bearer token to see the call."),
    "token_refused": N_("The token was refused (%(reason)s). Give an operations token."),
    "token_forgotten": N_("Token forgotten."),
    "could_not_refresh": N_("Could not refresh: %(reason)s"),
    "showing_call": N_("Showing call %(call)s; updated %(time)s."),
    "showing_no_call": N_("Showing no call known yet; updated %(time)s."),
    "replayed": N_("Replayed %(count)s message(s) to their handlers."),
    "at_call_time": N_("%(when)s call time"),
    "at_utc": N_("%(when)s UTC"),
    "stage_at": N_("%(stage)s (%(when)s)"),
    "no_stage": N_("none reached yet"),
    "current_stage": N_("current stage"),
    "reached": N_("reached"),
    "upcoming": N_("upcoming"),
    "final": N_("final"),
    "in_progress": N_("in progress"),
    "proposals": N_("Proposals"),
    "final_total": N_("Final"),
    "grants_signed": N_("Grants signed"),
    "granted": N_("Granted (EUR)"),
    "letters_sent": N_("Result letters sent"),
    "delivered": N_("Notifications delivered"),
    "failed": N_("Notifications failed"),
    "retrying": N_("Notifications retrying"),
    "not_ranked": N_("not ranked yet"),
    "replay": N_("Replay"),
    "replay_label": N_("Replay %(event)s %(id)s"),
    "no_event_id": N_("no event id: use Replay all"),
    "data_table": N_("Data table"),
    "timeline_of": N_("Timeline of %(proposal)s"),
    "state": N_("State: %(state)s"),
    "state_final": N_("State: %(state)s (final)"),
    "score": N_("score %(score)s"),
    "rank": N_("rank %(rank)s on the %(list)s list"),
    "failed_rules": N_("failed rules: %(rules)s"),
}


def render_page(refresh_ms: int = DEFAULT_REFRESH_MS, locale: str = DEFAULT_LOCALE) -> Response:
    """The page in ``locale`` (see :func:`shared.pages.i18n.negotiate`), with a fresh nonce
    that lets only its own style and script run."""
    nonce = secrets.token_urlsafe(18)
    gettext = translations(locale).gettext
    html = rendering.environment((str(TEMPLATE_DIR),), locale).get_template(
        "operations.html.j2").render(
        nonce=nonce, refresh_ms=max(500, int(refresh_ms)),
        texts={key: gettext(text) for key, text in SCRIPT_TEXTS.items()})
    return Response(html, mimetype="text/html", headers={
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"),
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Language": locale,
        "Vary": "Accept-Language",
    })


def svg_response(svg: str) -> Response:
    """A plot as a standalone SVG document; its own policy lets it run nothing."""
    return Response(svg, mimetype="image/svg+xml", headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'none'; script-src 'none'",
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
