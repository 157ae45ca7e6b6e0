"""Partner search and questions and answers of a topic, on the applicants' pages.

Each view calls the handler the JSON API calls (``handlers/partners.py``,
``handlers/questions.py``) with the signed-in applicant as the principal, and loads
forms and search filters with the API's schemas, so the pages accept and refuse exactly
what the API does, with the same field names and rules."""
from __future__ import annotations

from marshmallow import ValidationError

from services.submission.handlers import partners, questions
from services.submission.handlers.call_views import call_choices
from services.submission.schemas import (PartnerProfileBodySchema, PartnerSearchQuery,
                                         QuestionAskSchema)
from shared.pages.forms import errors_of, text
from shared.pages.route import PageError
from shared.web import ApiError, Unprocessable

PAGE_SIZE = 20
NOTICES = ("published", "saved", "withdrawn", "asked")
PROFILE_TEXT = ("organisation_name", "country", "entity_type", "experience", "looking_for")
FILTERS = ("country", "entity_type", "area", "q")


def _topic(call: dict, topic_id: str) -> dict:
    topic = next((t for t in call["topics"] if t["id"] == topic_id), None)
    if topic is None:
        raise PageError(404, "not_found")
    areas = {a["id"]: a["label"] for a in call["areas"]}
    # the topic's own areas, else the call's (as the API checks them)
    ids = topic["areas"] or list(areas)
    return {**topic, "area_choices": [{"id": a, "label": areas.get(a, a)} for a in ids]}


def _notice(page) -> str:
    done = page.request.args.get("done", "")
    return done if done in NOTICES else ""


def _offset(page) -> int:
    value = page.request.args.get("offset", "0")
    return int(value) if value.isdigit() and int(value) <= 100_000 else 0


def _refused(exc) -> list[dict]:
    """Field errors of a schema or a handler (422); an error of one area (``areas[2]``)
    is shown at the areas' group."""
    errors = errors_of(exc) if isinstance(exc, ValidationError) else (
        exc.errors if isinstance(exc.errors, list) else [{"field": "_body",
                                                         "rule": exc.message}])
    return [{**e, "field": "areas"} if e["field"].startswith("areas[") else e
            for e in errors]


def _own_profile(uow, page, call_id: str, topic_id: str) -> dict | None:
    return next((p for p in partners.mine(uow, page.principal)
                 if p["call_id"] == call_id and p["topic_id"] == topic_id), None)


# ------------------------------------------------------------------ partner search
def search(page, uow, call_id: str, topic_id: str):
    call = call_choices(uow, call_id, page.now())
    topic = _topic(call, topic_id)
    asked = {name: page.request.args.get(name, "").strip() for name in FILTERS}
    errors, found = [], None
    try:
        filters = PartnerSearchQuery().load({k: v for k, v in asked.items() if v})
    except ValidationError as exc:
        errors = errors_of(exc)
    else:
        filters.update(limit=PAGE_SIZE, offset=_offset(page))
        found = partners.search(uow, page.principal, call_id, topic_id, **filters)
    return page.render("partners.html.j2", status=422 if errors else 200, call=call,
                       topic=topic, filters=asked, errors=errors, found=found,
                       own=_own_profile(uow, page, call_id, topic_id),
                       notice=_notice(page), page_size=PAGE_SIZE)


def profile_form(page, uow, call_id: str, topic_id: str):
    call = call_choices(uow, call_id, page.now())
    own = _own_profile(uow, page, call_id, topic_id)
    return page.render("partner_profile.html.j2", call=call, topic=_topic(call, topic_id),
                       own=own, form=own or {"areas": []}, errors=[])


def save_profile(page, uow, call_id: str, topic_id: str):
    """Publish the applicant's profile for the topic, or change the one they have."""
    call = call_choices(uow, call_id, page.now())
    topic = _topic(call, topic_id)
    own = _own_profile(uow, page, call_id, topic_id)
    body = {name: text(page.form, name).strip() for name in PROFILE_TEXT}
    body["country"] = body["country"].upper()
    body["areas"] = [a for a in page.form.getlist("areas")[:50] if a]
    try:
        data = PartnerProfileBodySchema().load(body)
        if own is not None and own["state"] == "published":
            partners.edit(uow, page.principal, own["id"], data, page.now())
        else:
            partners.publish(uow, page.principal, call_id, topic_id, data, page.now())
    except (ValidationError, Unprocessable) as exc:
        return page.render("partner_profile.html.j2", status=422, call=call, topic=topic,
                           own=own, form=body, errors=_refused(exc))
    done = "saved" if own is not None and own["state"] == "published" else "published"
    return page.redirect(f"/apply/calls/{call_id}/topics/{topic_id}/partners?done={done}")


def withdraw_profile(page, uow, profile_id: str):
    profile = partners.withdraw(uow, page.principal, profile_id, page.now())
    return page.redirect(f"/apply/calls/{profile['call_id']}/topics/{profile['topic_id']}"
                         "/partners?done=withdrawn")


# ------------------------------------------------------------------ questions and answers
def _questions_page(page, uow, call: dict, topic: dict, *, form=None, errors=(),
                    status: int = 200):
    listing = questions.listing(uow, page.principal, call["call_id"], topic["id"],
                                limit=PAGE_SIZE, offset=_offset(page))
    return page.render("questions.html.j2", status=status, call=call, topic=topic,
                       listing=listing, form=form or {}, errors=list(errors),
                       notice=_notice(page), page_size=PAGE_SIZE)


def questions_page(page, uow, call_id: str, topic_id: str):
    call = call_choices(uow, call_id, page.now())
    return _questions_page(page, uow, call, _topic(call, topic_id))


def ask(page, uow, call_id: str, topic_id: str):
    call = call_choices(uow, call_id, page.now())
    topic = _topic(call, topic_id)
    body = {"question": text(page.form, "question").strip()}
    try:
        questions.ask(uow, page.principal, call_id, topic_id,
                      QuestionAskSchema().load(body)["question"], page.now())
    except (ValidationError, Unprocessable) as exc:
        return _questions_page(page, uow, call, topic, form=body, errors=_refused(exc),
                               status=422)
    except ApiError as exc:  # the deadline passed, too many questions waiting
        return _questions_page(page, uow, call, topic, form=body, status=exc.status,
                               errors=[{"field": "question", "rule": exc.message}])
    return page.redirect(f"/apply/calls/{call_id}/topics/{topic_id}/questions?done=asked")
