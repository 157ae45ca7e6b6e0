"""One message catalogue for every English text of the pages, kept current, and ready
for another language."""

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from shared.pages import rendering
from shared.pages.audiences import APPLY
from tests.unit.pages.support import ROOT, install_language, page_for

POT = ROOT / "shared" / "pages" / "locale" / "messages.pot"


def _extracted() -> set:
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    return {message for _, _, message, _, _ in
            extract_from_dir(str(ROOT), method_map, options_map)}


def test_the_committed_catalogue_holds_exactly_the_texts_of_the_pages():
    with open(POT, "rb") as pot:
        committed = {m.id for m in read_po(pot) if m.id}
    extracted = _extracted()
    missing, stale = extracted - committed, committed - extracted
    assert not missing and not stale, (
        f"run: .venv/bin/pybabel extract -F babel.cfg -o {POT.relative_to(ROOT)} "
        f"--sort-by-file . (missing {sorted(missing, key=str)[:5]}, stale "
        f"{sorted(stale, key=str)[:5]})")


def test_a_compiled_language_is_negotiated_and_used(tmp_path, monkeypatch):
    install_language(tmp_path, monkeypatch, "fr", {
        "Sign in": "Se connecter",
        "E-mail me a sign-in link": "Envoyez-moi un lien de connexion"})
    try:
        page = page_for("/apply/sign-in", APPLY, "submission",
                        headers={"Accept-Language": "fr-BE,fr;q=0.9,en;q=0.5"})
        assert page.locale == "fr"
        html = page.render("sign_in.html.j2", email="", errors=[], next="/apply/", reason="",
                           minutes=30).get_data(as_text=True)
        assert "Envoyez-moi un lien de connexion" in html and '<html lang="fr">' in html
        english = page_for("/apply/sign-in", APPLY, "submission",
                           headers={"Accept-Language": "de"})
        assert english.locale == "en"
    finally:
        rendering.environment.cache_clear()
