"""The pages' settings, read from a service's nameko config.

Config keys (all optional):
  AUTH_SECRET     the deployment's secret (sign-in links, sessions and CSRF tokens each
                  use their own key derived from it; see shared.auth)
  SERVICE_URLS    where each service answers (shared.config); the pages link to each other
                  and mail links point there, unless PAGES.urls names public addresses
  PAGES           {sign_in_minutes: 30, session_hours: 8, secure_cookies: auto|always|never,
                   sign_in_requests_per_hour: 5, urls: {service: public base URL},
                   public_url: the one origin a proxy serves every service's pages from
                   (GRANTFLOW_PUBLIC_URL; the page prefixes do not overlap)}
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from shared.auth import DEFAULT_DEV_SECRET

SECURE_CHOICES = ("auto", "always", "never")


@dataclass(frozen=True)
class PageSettings:
    secret: str = DEFAULT_DEV_SECRET
    urls: dict = field(default_factory=dict)  # service -> base URL (no trailing slash)
    sign_in_ttl: timedelta = timedelta(minutes=30)
    session_ttl: timedelta = timedelta(hours=8)
    secure_cookies: str = "auto"  # auto: Secure when the request came over HTTPS
    sign_in_requests_per_hour: int = 5  # per address: a form cannot flood a mailbox

    @classmethod
    def from_config(cls, config: dict) -> "PageSettings":
        pages = config.get("PAGES") or {}
        urls = {**(config.get("SERVICE_URLS") or {}), **(pages.get("urls") or {})}
        if pages.get("public_url"):  # one origin: every service's pages behind one proxy
            urls = {name: pages["public_url"] for name in urls}
        secure = pages.get("secure_cookies", "auto")
        if secure not in SECURE_CHOICES:
            raise ValueError(f"PAGES.secure_cookies must be one of {', '.join(SECURE_CHOICES)}"
                             f", not {secure!r}")
        settings = cls(
            secret=config.get("AUTH_SECRET", DEFAULT_DEV_SECRET),
            urls={name: str(url).rstrip("/") for name, url in urls.items()},
            sign_in_ttl=timedelta(minutes=float(pages.get("sign_in_minutes", 30))),
            session_ttl=timedelta(hours=float(pages.get("session_hours", 8))),
            secure_cookies=secure,
            sign_in_requests_per_hour=int(pages.get("sign_in_requests_per_hour", 5)))
        if not (timedelta(0) < settings.sign_in_ttl <= timedelta(days=1)):
            raise ValueError("PAGES.sign_in_minutes must be above 0 and at most a day")
        if not (timedelta(0) < settings.session_ttl <= timedelta(days=7)):
            raise ValueError("PAGES.session_hours must be above 0 and at most a week")
        return settings

    def url(self, service: str, path: str = "") -> str:
        """``path`` on ``service`` (absolute), or the path alone when its address is not
        configured (then links stay on the serving origin)."""
        return self.urls.get(service, "") + path

    @property
    def origins(self) -> frozenset[str]:
        """The origins of the services: where a form may post and a redirect may go."""
        return frozenset(origin(url) for url in self.urls.values() if origin(url))


def origin(url: str) -> str:
    """``scheme://host[:port]`` of an absolute http(s) URL, or '' for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()
