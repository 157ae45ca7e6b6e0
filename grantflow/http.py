"""HTTP plumbing of the ``grantflow`` commands that talk to a service.

One :class:`Client` per command run picks the bearer token (:func:`bearer`) and the base URL
(:func:`service_url`), sends the request through :func:`grantflow.retry.request` (every
state-changing request carries an ``Idempotency-Key``; connection errors and 502/503/504
are retried with backoff, so a service restarting is waited for and a retried action is
never done twice), maps the answer to an exit code and prints either the JSON (``--json``)
or the command's own view. A refusal is printed once: the ``error``, then each
``field: rule`` of its ``errors`` (with ``(line N)`` where the service names one), or its
``message`` when it names no field.

A service that does not answer is named with what to run and where its log is
(:func:`unreachable`), never with a urllib3 trace; a local service whose process is not
running is reported at once instead of being waited for.

Exit codes (see :mod:`grantflow.cli`): 0 ok; 2 bad input (400/422 unless the command says
otherwise); 3 the service is down (it does not answer, or answers 502/503/504); 1 any other
refusal or error (401/403/404/409/413, 500...).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable, Collection, Iterator

import requests

from grantflow import retry
from shared.auth import DEFAULT_DEV_SECRET, TokenPolicy, issue_token
from shared.config import base_url, env, token_settings

OK, FAILURE, BAD_INPUT, DOWN = 0, 1, 2, 3
#: answers that mean the input was wrong; commands that upload files add 413 (too large)
INPUT_STATUSES = (400, 422)
UPLOAD_INPUT_STATUSES = (400, 413, 422)
#: answers of a proxy or service that is down or not ready
DOWN_STATUSES = (502, 503, 504)
OPERATIONS_EMAIL = "operations@grantflow.example"


def pages_after(fetch: Callable[[dict], dict], params: dict) -> Iterator[list[dict]]:
    """The items of each page of a listing paged by position (``GET /notifications``):
    each page is asked ``after`` the last item of the one before, until a page says it has
    no more. ``fetch(params)`` returns one page's answer (``items``, ``has_more``)."""
    after = None
    while True:
        page = fetch({**params, **({"after": after} if after is not None else {})})
        yield page["items"]
        if not page["items"] or not page["has_more"]:
            return
        after = page["items"][-1]["id"]


def dev_token(email: str = OPERATIONS_EMAIL, role: str = "operations", **kwargs) -> str:
    """A development token signed with the configured secret (``GRANTFLOW_AUTH_SECRET``),
    with the issuer, audience and lifetimes the services are configured with
    (``GRANTFLOW_TOKEN_*``); ``kwargs`` go to :func:`shared.auth.issue_token` (``ttl``)."""
    policy = TokenPolicy.from_config({"TOKENS": token_settings()})
    return issue_token(env("AUTH_SECRET", DEFAULT_DEV_SECRET), email, role, policy=policy,
                       **kwargs)


def bearer(args, as_role: str | None = None) -> str:
    """``--token``, else ``$GRANTFLOW_TOKEN``, else a development token: an ``as_role``
    token for ``--as EMAIL`` where the command offers ``--as``, an operations token otherwise."""
    explicit = getattr(args, "token", None) or os.environ.get("GRANTFLOW_TOKEN")
    if explicit:
        return explicit
    email = getattr(args, "as_email", None)
    return dev_token(email, as_role) if email and as_role else dev_token()


def service_url(args, service: str) -> str:
    """``--url``, else ``shared.config.base_url(service)`` (which reads
    ``$GRANTFLOW_<SERVICE>_URL``); without a trailing slash."""
    return (getattr(args, "url", None) or base_url(service)).rstrip("/")


def connection_options(service: str, *, as_help: str | None = None,
                       json_flag: bool = True) -> argparse.ArgumentParser:
    """The parent parser of a command talking to ``service``: ``--url``, ``--token``, with
    ``as_help`` ``--as EMAIL`` (``args.as_email``), with ``json_flag`` ``--json``."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--url", help=f"{service} service base URL (default: "
                                       f"$GRANTFLOW_{service.upper()}_URL, else from config)")
    options.add_argument("--token", help="bearer token (default: $GRANTFLOW_TOKEN, else a "
                                         "development token)")
    if as_help:
        options.add_argument("--as", dest="as_email", metavar="EMAIL", help=as_help)
    if json_flag:
        options.add_argument("--json", action="store_true", help="print the JSON response")
    return options


def call_argument(parser: argparse.ArgumentParser, what: str = "only this call") -> None:
    """The one convention for a call id that may be left out: the first positional argument
    (``grants timing AMIF-2018-AG-INTE``); ``--call ID``, the older spelling of some
    commands, is still accepted (:func:`grantflow.cli.main` merges the two)."""
    parser.add_argument("call_id", nargs="?", metavar="CALL_ID", help=what)
    parser.add_argument("--call", dest="call_alias", metavar="CALL_ID",
                        help="the same as CALL_ID (older spelling)")


def print_json(data) -> None:
    print(json.dumps(data, indent=2))


#: seconds a command waits for a service that does not answer (a restart takes a few)
WAIT_SECONDS = float(env("CLI_WAIT", str(retry.INTERACTIVE.give_up_after)))


def _local(service: str, explicit_url: bool = False):
    """The local process of ``service`` (``grantflow up``), unless a URL names another place."""
    if explicit_url or env(f"{service.upper()}_URL"):
        return None
    from grantflow.runtime import processes
    return processes([service])[0]


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "it did not answer in time"
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    if "Name or service not known" in text or "nodename" in text:
        return "unknown host"
    return type(exc).__name__


def unreachable(service: str, url: str, exc: Exception | None = None,
                explicit_url: bool = False) -> str:
    """Why ``service`` cannot be reached, what to run and where its log is (one line)."""
    why = f" ({_reason(exc)})" if exc is not None else ""
    message = f"the {service} service is not reachable: it does not answer at {url}{why}"
    local = _local(service, explicit_url)
    if local is None:
        return message + f"; check GRANTFLOW_{service.upper()}_URL and that it is up"
    state = "its process is not running" if not local.is_alive() else "its process is running"
    return (f"{message}: {state}. Start it with `grantflow up {service}` (same GRANTFLOW_* "
            f"settings); its log is {local.log_path}")


def service_of(exc: requests.RequestException, urls: dict[str, str]) -> tuple[str, str]:
    """Which service (name, base URL) a failed request was for, by its URL."""
    url = getattr(exc.request, "url", "") or ""
    for name, base in urls.items():
        if url.startswith(base.rstrip("/")):
            return name, base
    return "submission", urls.get("submission", url)


def local_down(service: str, explicit_url: bool = False) -> bool:
    """True when ``service`` runs locally (no URL override) and its process is not alive."""
    local = _local(service, explicit_url)
    return local is not None and not local.is_alive()


class Client:
    """JSON over HTTP to one service for one command run (``args`` are its parsed options).

    ``as_role``: the role of the development token for ``--as EMAIL``; ``timeout``: seconds
    per request unless a call passes its own; ``bad_input`` and ``down``: the statuses
    that exit 2 and 3 (every other status from 400 on exits 1).
    """

    def __init__(self, args, service: str, *, as_role: str | None = None,
                 timeout: float = 30, bad_input: Collection[int] = INPUT_STATUSES,
                 down: Collection[int] = DOWN_STATUSES):
        self.service = service
        self.url = service_url(args, service)
        self.explicit_url = bool(getattr(args, "url", None))
        self.token = bearer(args, as_role)
        self.as_json = getattr(args, "json", False)
        self.timeout, self.bad_input, self.down = timeout, bad_input, down
        self._warned = False

    def call(self, method: str, path: str, show: Callable | None = None, **kwargs) -> int:
        """Send a request; print the answer with ``show`` (as JSON with --json or without
        ``show``; a text answer as it is); the exit code."""
        code, data = self.fetch(method, path, **kwargs)
        if code == OK:
            if isinstance(data, str):
                sys.stdout.write(data)
            elif self.as_json or show is None:
                print_json(data)
            else:
                show(data)
        return code

    def fetch(self, method: str, path: str, quiet: bool = False,
              **kwargs) -> tuple[int, object]:
        """Send a request (``kwargs`` go to ``requests``); the exit code and the decoded
        answer (a str for a successful answer that is not JSON). A refusal is printed
        unless ``quiet`` (a 404 the caller expects)."""
        url = self.url + path
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", self.timeout)
        # wait for a service that is restarting; not for one whose process is not running
        backoff = retry.Backoff(give_up_after=0 if local_down(self.service, self.explicit_url)
                                else WAIT_SECONDS)
        try:
            response = retry.request(None, method, url, headers=headers, backoff=backoff,
                                     on_retry=self._waiting, **kwargs)
        except requests.RequestException as exc:
            print(unreachable(self.service, self.url, exc, self.explicit_url), file=sys.stderr)
            return DOWN, None
        status = response.status_code
        if status < 400 and not response.headers.get("Content-Type", "").startswith(
                "application/json"):
            return OK, response.text
        try:
            data = response.json()
        except ValueError:
            data = {"message": response.text[:500] or response.reason}
        if status >= 400:
            return (FAILURE if quiet else self.refused(status, data)), data
        return OK, data

    def _waiting(self, reason: str) -> None:
        if not self._warned:
            self._warned = True
            print(f"the {self.service} service is not answering yet ({reason.split(': ')[-1]}); "
                  "waiting for it", file=sys.stderr)

    def refused(self, status: int, data) -> int:
        """Print a refusal once: its error, then every field and rule (or the message when
        it names none); its exit code."""
        data = data if isinstance(data, dict) else {"message": str(data)}
        error = f" {data['error']}" if data.get("error") else ""
        problems = [item for item in data.get("errors") or [] if isinstance(item, dict)]
        if problems:  # the message repeats them; the list says it once, one per line
            print(f"the {self.service} service answered {status}{error}:", file=sys.stderr)
        else:
            print(f"the {self.service} service answered {status}{error}: "
                  f"{data.get('message', data)}", file=sys.stderr)
        for item in problems:
            line = f" (line {item['line']})" if item.get("line") else ""
            print(f"  {item.get('field')}: {item.get('rule')}{line}", file=sys.stderr)
        if status in self.bad_input:
            return BAD_INPUT
        return DOWN if status in self.down else FAILURE
