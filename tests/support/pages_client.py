"""A person in front of the pages without a browser: a cookie jar, the CSRF token of the
last page, forms posted like a browser posts them, and sign-in links read from the mail
the test SMTP server kept."""
from __future__ import annotations

import re
from html import unescape

import requests

from tests.support.infra import eventually

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"(http://\S+/sign-in/link\?token=\S+)")


class Visitor:
    def __init__(self):
        self.http = requests.Session()
        self.last: requests.Response | None = None

    def get(self, url: str, **kwargs) -> requests.Response:
        self.last = self.http.get(url, timeout=30, **kwargs)
        return self.last

    @property
    def csrf(self) -> str:
        found = _CSRF.search(self.last.text)
        assert found, f"no CSRF token on {self.last.url}: {self.last.status_code} {self.last.text[:3000]}"
        return unescape(found.group(1))

    def post(self, url: str, data: dict | None = None, files=None, csrf: bool = True,
             **kwargs) -> requests.Response:
        form = {**({"csrf_token": self.csrf} if csrf else {}), **(data or {})}
        self.last = self.http.post(url, data=form, files=files, timeout=30, **kwargs)
        return self.last

    def text(self) -> str:
        return unescape(re.sub(r"<[^>]+>", " ", self.last.text))


def sign_in_links(smtp, address: str) -> list[str]:
    """Every sign-in link mailed to ``address`` so far, oldest first."""
    return [match for message in smtp.messages() if address.lower() in
            [a.lower() for a in message["rcpt_tos"]]
            for match in _LINK.findall(message["text"])]


def wait_for_link(smtp, address: str, after: int = 0) -> str:
    links = eventually(lambda: (lambda found: found if len(found) > after else None)(
        sign_in_links(smtp, address)), message=f"a sign-in link for {address}")
    return links[-1]


def sign_in(visitor: Visitor, link: str) -> requests.Response:
    """Open the link, press the button: the session cookie is set."""
    page = visitor.get(link)
    assert "Sign in as" in page.text, page.text[:500]
    return visitor.post(link.split("?")[0], {"token": re.search(
        r'name="token" value="([^"]+)"', page.text).group(1)})
