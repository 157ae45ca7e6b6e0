"""Checks of a service's deployment settings at start-up, besides the secret
(:func:`shared.auth.check_secret`): outside ``ENV=development`` the broker and database
credentials must not be the defaults committed in :mod:`shared.config`; in development a
wall clock on an address other than loopback is warned about, loudly, once per process."""
from __future__ import annotations

import ipaddress
import logging

_log = logging.getLogger("grantflow.security")
_warned = False

#: credentials that appear in this repository and so are no secret
COMMITTED_BROKER_CREDENTIALS = ("guest:guest@",)
COMMITTED_DATABASE_URLS = ("postgresql://postgres@",)


class DeploymentRefused(Exception):
    """A setting may not be used outside development (the message names it and the rule)."""


def is_development(config: dict) -> bool:
    return config.get("ENV") == "development"


def check_deployment(config: dict) -> None:
    if is_development(config):
        _warn_exposed_development(config)
        return
    amqp = str(config.get("AMQP_URI") or "")
    if not amqp or any(c in amqp for c in COMMITTED_BROKER_CREDENTIALS):
        raise DeploymentRefused(
            "GRANTFLOW_AMQP_URI must name the broker with this deployment's own user and "
            "password (not the committed default guest:guest) outside development; set "
            "GRANTFLOW_ENV=development for a development stack")
    database = str(config.get("DATABASE_URL") or "")
    if any(database.startswith(url) for url in COMMITTED_DATABASE_URLS):
        raise DeploymentRefused(
            "the database URL (GRANTFLOW_PG_URL or GRANTFLOW_<SERVICE>_DATABASE_URL) must "
            "carry this deployment's own credentials, not the committed default "
            "postgresql://postgres@ (no password), outside development; set "
            "GRANTFLOW_ENV=development for a development stack")


def _warn_exposed_development(config: dict) -> None:
    global _warned
    host = str(config.get("WEB_SERVER_ADDRESS") or "").rpartition(":")[0] or "0.0.0.0"
    if _warned or config.get("CLOCK", "wall") != "wall" or _loopback(host):
        return
    _warned = True
    _log.warning(
        "!!! DEVELOPMENT MODE ON A REAL CLOCK, LISTENING ON %s: GRANTFLOW_ENV=development "
        "accepts the public development secret, so anyone who can reach this address can "
        "forge tokens of any role. Use it only on a private machine; set GRANTFLOW_ENV="
        "production and a real GRANTFLOW_AUTH_SECRET for anything else. !!!", host)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
