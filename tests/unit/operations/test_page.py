"""The operations page document: self-contained, locked down, accessible markup."""
import re
from html.parser import HTMLParser

from services.operations.adapters.page import render_page


class Markup(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _page():
    response = render_page(refresh_ms=1500)
    markup = Markup()
    markup.feed(response.get_data(as_text=True))
    return response, markup.tags


def test_only_the_pages_own_script_and_style_may_run():
    response, tags = _page()
    policy = response.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy).group(1)
    running = [a for t, a in tags if t in ("script", "style") and a.get("type") !=
               "application/json"]
    assert [a.get("nonce") for a in running] == [nonce, nonce]
    # the script's texts: a JSON data block, which no browser runs (so it needs no nonce)
    assert [a for t, a in tags if t == "script" and a.get("type") == "application/json"] == [
        {"type": "application/json", "id": "ops-texts"}]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert render_page().headers["Content-Security-Policy"] != policy  # a fresh nonce


def test_nothing_is_loaded_from_elsewhere():
    _, tags = _page()
    assert not [a for t, a in tags if "src" in a or (t == "link" and "href" in a)]


def test_tables_have_column_headers_and_inputs_have_labels():
    _, tags = _page()
    tables = [a["id"] for t, a in tags if t == "table"]
    assert tables == ["timetable", "counts", "topics", "proposals", "timeline", "loads",
                      "dead-letters"]
    headers = [a for t, a in tags if t == "th"]
    assert headers and all(a.get("scope") == "col" for a in headers)
    labelled = {a["for"] for t, a in tags if t == "label"}
    controls = {a["id"] for t, a in tags if t in ("input", "select")}
    assert controls == labelled == {"token-input", "call-select"}


def test_the_refresh_period_comes_from_the_configuration():
    _, tags = _page()
    assert dict(tags)["body"]["data-refresh-ms"] == "1500"
