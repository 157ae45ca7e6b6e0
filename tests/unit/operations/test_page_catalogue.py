"""The operations page's texts are in the pages' message catalogue (see
tests/unit/pages/test_catalogue.py, which keeps it current): the template's, the script's
(handed to it translated, as JSON) and the plots'; a compiled language is used for all."""
import json
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.operations import handlers
from services.operations.adapters.page import SCRIPT_TEXTS, TEMPLATE_DIR, render_page
from services.operations.adapters.plots import loads_plot
from shared.pages import i18n, rendering
from tests.support.operations_scenario import CALL_ID, call_events
from tests.unit.pages.support import ROOT, install_language

POT = ROOT / "shared" / "pages" / "locale" / "messages.pot"
SCRIPT = TEMPLATE_DIR / "operations.js"
OPERATIONS = {"services/operations/templates/operations.html.j2",
              "services/operations/adapters/page.py", "services/operations/adapters/plots.py",
              "services/operations/domain/plot_data.py"}
#: the only script literals with a capital letter or a space that are not texts: the
#: strict mode directive, HTTP's words, the "T" of an ISO instant
PROTOCOL = {"use strict", "Bearer ", "Authorization", "Accept", "Content-Type", "GET", "POST",
            "T"}
FRENCH = {
    "Grantflow operations": "Opérations Grantflow",
    "Refresh now": "Actualiser maintenant",
    "refreshes every %(seconds)s s": "actualisée toutes les %(seconds)s s",
    "Data table": "Tableau des données",
    "Evaluator loads": "Charges des évaluateurs",
    "Submitted": "Soumises",
    "Proposals per stage over the call's time": "Propositions par étape au fil de l'appel",
    ("Current assignments of %(count)s evaluator, heaviest first: each bar splits final "
     "reports from reports still due. The heaviest load is %(heaviest)s.",
     "Current assignments of %(count)s evaluators, heaviest first: each bar splits final "
     "reports from reports still due. The heaviest load is %(heaviest)s."): (
        "%(count)s évaluateur affecté, charge maximale %(heaviest)s.",
        "%(count)s évaluateurs affectés, charge maximale %(heaviest)s."),
}


def _operations_messages() -> dict:
    """msgid -> the files of the operations page it is in, as babel.cfg extracts them."""
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict = {}
    for path, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map):
        if path in OPERATIONS:
            found.setdefault(message, set()).add(path)
    return found


def _script_code() -> str:
    return re.sub(r"(^|\s)//[^\n]*", r"\1", SCRIPT.read_text())  # comments: no texts


def _script_literals() -> list[str]:
    return re.findall(r'"((?:[^"\\\n]|\\.)*)"', _script_code())


def test_every_text_of_the_operations_page_is_in_the_catalogue():
    found = _operations_messages()
    assert {path for paths in found.values() for path in paths} == OPERATIONS
    with open(POT, "rb") as pot:
        committed = {m.id for m in read_po(pot) if m.id}
    assert set(found) <= committed
    assert set(SCRIPT_TEXTS.values()) <= set(found)  # the script's texts, by their keys
    # a sample of each source: the template, the script's texts, the plots, the domain
    assert {"Dead-letter queue", "Replay all", "Token forgotten.", "Evaluator loads",
            "days after the deadline", "Withdrawn or declined", "Time to inform"} <= set(found)


def test_the_script_asks_for_exactly_the_texts_the_page_hands_it():
    assert set(re.findall(r'(?<!function )\bsay\(("?)(\w+)', _script_code())) == {
        ('"', key) for key in SCRIPT_TEXTS}  # and always by a literal key


def test_no_english_text_is_left_in_the_script():
    """Every string literal of operations.js is code: a text's key, an element id, a CSS
    class, a tag, an attribute, a path or a media type (lower case, no space), punctuation
    (no letter at all), or one of a few words of the protocol."""
    literals = _script_literals()
    assert len(literals) > 100
    texts = [s for s in literals if re.search(r"[A-Za-z]", s) and s not in PROTOCOL
             and not re.fullmatch(r"[a-z0-9$*\[/][\w\-./?=:+\[\]$]*", s)]
    assert texts == []


@pytest.fixture
def french(tmp_path, monkeypatch):
    install_language(tmp_path, monkeypatch, "fr", FRENCH)
    yield
    rendering.environment.cache_clear()


def _locale(accept_language: str) -> str:
    request = Request(EnvironBuilder(headers={"Accept-Language": accept_language}).get_environ())
    return i18n.negotiate(request.accept_languages)


def test_a_compiled_language_is_used_by_the_page_and_its_script(french):
    assert _locale("de") == "en"
    response = render_page(1500, _locale("fr-BE,fr;q=0.9,en;q=0.5"))
    html = response.get_data(as_text=True)
    assert '<html lang="fr">' in html and response.headers["Content-Language"] == "fr"
    assert "<title>Opérations Grantflow</title>" in html
    assert "Actualiser maintenant" in html and "actualisée toutes les 1.5 s" in html
    texts = json.loads(re.search(r'<script type="application/json" id="ops-texts">(.*?)'
                                 r"</script>", html).group(1))
    assert texts["data_table"] == "Tableau des données"
    assert texts["replay"] == "Replay"  # not translated yet: English
    english = render_page(1500, _locale("de")).get_data(as_text=True)
    assert '<html lang="en">' in english and "Refresh now" in english


def test_a_compiled_language_is_used_by_the_plots(french, ops):
    expert = {"expert_id": "E1", "name": "Ada", "current": 2, "reports_due": 1, "released": 0}
    plot = loads_plot([expert, {**expert, "expert_id": "E2"}], i18n.translations("fr"))
    assert plot["title"] == "Charges des évaluateurs"
    assert plot["description"] == "2 évaluateurs affectés, charge maximale 2."
    assert "<title id=\"plot-loads-title\">Charges des évaluateurs</title>" in plot["svg"]
    ops.feed(*call_events())
    french_plots = handlers.plots(ops.uow(), CALL_ID, "fr")["plots"]
    stages = french_plots[0]
    assert stages["title"] == "Propositions par étape au fil de l'appel"
    assert "Soumises" in stages["table"]["columns"] and ">Soumises<" in stages["svg"]
    english_plots = handlers.plots(ops.uow(), CALL_ID)["plots"]  # kept per language
    assert english_plots[0]["title"] == "Proposals per stage over the call's time"
    assert "Submitted" in english_plots[0]["table"]["columns"]
