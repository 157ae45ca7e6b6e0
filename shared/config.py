"""Configuration of a service process, built from the environment in one place.

``grantflow up`` writes each service's nameko config file from :func:`service_config`;
tests call it with their own broker vhost, databases and SMTP port.

Environment (all optional):
  GRANTFLOW_AMQP_URI           amqp://guest:guest@127.0.0.1:5672//
  GRANTFLOW_<SVC>_AMQP_URI     one service's broker URI (its own user: deploy/README.md)
  GRANTFLOW_DATABASE           sqlite (default, files under GRANTFLOW_VAR) | postgresql
  GRANTFLOW_PG_URL             postgresql://postgres@127.0.0.1:5432 (database grantflow_<svc>)
  GRANTFLOW_DB_PREFIX          grantflow (databases are named <prefix>_<service>)
  GRANTFLOW_<SVC>_DATABASE_URL overrides one service's database
  GRANTFLOW_CLOCK              wall | simulated (shared file GRANTFLOW_VAR/clock.json)
  GRANTFLOW_VAR                var
  GRANTFLOW_ENV                production (default) | development: only development accepts
                               the public development secret (and an unset one means it),
                               the committed broker and database defaults
  GRANTFLOW_AUTH_SECRET        secret that signs and checks tokens (>= 32 bytes outside
                               development; the services refuse to start otherwise)
  GRANTFLOW_TOKEN_ISSUER/AUDIENCE   the iss/aud claims tokens carry (grantflow/grantflow-api)
  GRANTFLOW_TOKEN_MAX_HOURS    longest token lifetime per role, e.g. "operations=8,applicant=72"
                               (defaults: applicant and evaluator 720, operations 24)
  GRANTFLOW_IDEMPOTENCY_HOURS  how long an Idempotency-Key and its response are kept (168)
  GRANTFLOW_SMTP_HOST/PORT     127.0.0.1 / 1025
  GRANTFLOW_HOST               127.0.0.1 (address the HTTP APIs bind to)
  GRANTFLOW_<SVC>_PORT         a service's HTTP port (defaults: operations 8100, submission
                               8101, evaluation 8102, grants 8103, notifications 8104)
  GRANTFLOW_<SVC>_URL          where a tool reaches a service (default http://HOST:<port>)
  GRANTFLOW_PUBLIC_URL         the one public origin of the people's pages behind a proxy
                               (mailed sign-in links and links between services use it;
                               default: each service's GRANTFLOW_<SVC>_URL)
  GRANTFLOW_DB_POOL_SIZE       PostgreSQL connections a service process may keep open (8;
                               opened as needed, kept once opened)
  GRANTFLOW_DB_MAX_OVERFLOW    connections it may open beyond them under load, each closed
                               when returned (0); a process holds at most their sum
                               (deploy/README.md, "Connection budget")
  GRANTFLOW_DB_PRE_PING        test a connection when it is taken from the pool (true)
  GRANTFLOW_MAX_WORKERS        concurrent workers (handlers, requests) per process (32)
  GRANTFLOW_PREFETCH_COUNT     messages each event queue's consumer may hold (the workers;
                               at least twice a batching handler's batch size)
  GRANTFLOW_EVENT_BATCH_SIZE   events a batching handler applies per transaction (its own)
  GRANTFLOW_EVENT_BATCH_WAIT_MS  how long at most it waits to fill a batch (its own)
  GRANTFLOW_EVENT_BATCH_IDLE_MS  a batch that does not fill goes this long after its latest
                               event if that comes before the wait ends (its own)
  GRANTFLOW_<SVC>_<SETTING>    any of the eight above for one service only, e.g.
                               GRANTFLOW_OPERATIONS_DB_POOL_SIZE=8
  GRANTFLOW_GRANTS_AUTHORITY_EMAIL   who signs for the granting authority (signature requests)
  GRANTFLOW_NOTIFY_OPERATIONS  comma-separated addresses of the operations team (digests, alerts)
  GRANTFLOW_MAIL_SENDERS       mail batches notifications sends at once, each on its own SMTP
                               and database connection (3)
  GRANTFLOW_MAIL_BATCH_SIZE    messages a mail batch claims (50)
"""
from __future__ import annotations

import os
from pathlib import Path


SERVICES = ("submission", "evaluation", "grants", "notifications", "operations")
HTTP_PORTS = {"operations": 8100, "submission": 8101, "evaluation": 8102, "grants": 8103,
              "notifications": 8104}
#: a random name whoever starts a service process gives it (grantflow.processes):
#: ``/health`` echoes it, so the starter knows the answer comes from that process and not
#: from another program already listening on the port it was told to take
INSTANCE_ENV = "GRANTFLOW_INSTANCE"
SERVICE_CLASSES = {
    "submission": "services.submission.service:SubmissionService",
    "evaluation": "services.evaluation.service:EvaluationService",
    "grants": "services.grants.service:GrantsService",
    "notifications": "services.notifications.service:NotificationsService",
    "operations": "services.operations.service:OperationsService",
}
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432"
#: a process holds at most 8 PostgreSQL connections for its work (and as many for its
#: Idempotency-Key locks; deploy/README.md, "Connection budget"), all kept once opened:
#: an overflow connection is closed when returned, so under steady load each use of one
#: would set up and tear down a PostgreSQL connection
DEFAULT_DB_POOL_SIZE = 8
DEFAULT_DB_MAX_OVERFLOW = 0
DEFAULT_MAX_WORKERS = 32


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"GRANTFLOW_{name}", default)


def var_dir() -> Path:
    return Path(env("VAR", "var")).resolve()


def clock_setting() -> str:
    mode = env("CLOCK", "wall")
    return f"file:{var_dir() / 'clock.json'}" if mode == "simulated" else mode


def database_url(service: str) -> str | None:
    explicit = env(f"{service.upper()}_DATABASE_URL")
    if explicit:
        return explicit
    if env("DATABASE", "sqlite") == "postgresql":
        return f"{env('PG_URL', DEFAULT_PG_URL).rstrip('/')}/{env('DB_PREFIX', 'grantflow')}_{service}"
    return None  # the provider's SQLite default under VAR_DIR


def service_setting(service: str, name: str) -> str | None:
    """``GRANTFLOW_<SERVICE>_<NAME>``, else ``GRANTFLOW_<NAME>``, else None."""
    return env(f"{service.upper()}_{name}") or env(name)


def _count(service: str, name: str, default: int | None, minimum: int) -> int | None:
    text = service_setting(service, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        which = f"GRANTFLOW_{service.upper()}_{name}" if env(f"{service.upper()}_{name}") \
            else f"GRANTFLOW_{name}"
        raise ValueError(f"{which} must be a whole number of at least {minimum}, not {text!r}")
    return value


def _flag(service: str, name: str, default: bool) -> bool:
    text = service_setting(service, name)
    if text is None:
        return default
    if text.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if text.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"GRANTFLOW_{name} must be true or false, not {text!r}")


def db_pool(service: str) -> dict:
    """A service process's PostgreSQL pool: ``size`` kept, ``max_overflow`` more under
    load, ``pre_ping`` (per service: ``GRANTFLOW_<SVC>_DB_POOL_SIZE`` ...)."""
    return {"size": _count(service, "DB_POOL_SIZE", DEFAULT_DB_POOL_SIZE, 1),
            "max_overflow": _count(service, "DB_MAX_OVERFLOW", DEFAULT_DB_MAX_OVERFLOW, 0),
            "pre_ping": _flag(service, "DB_PRE_PING", True)}


def consumer_settings(service: str) -> dict:
    """Workers, prefetch and batching of a service's processes (config keys)."""
    workers = _count(service, "MAX_WORKERS", DEFAULT_MAX_WORKERS, 1)
    settings = {"max_workers": workers,
                "PREFETCH_COUNT": _count(service, "PREFETCH_COUNT", workers, 1)}
    batch = {key: value for key, value in (
        ("size", _count(service, "EVENT_BATCH_SIZE", None, 2)),
        ("wait_ms", _count(service, "EVENT_BATCH_WAIT_MS", None, 0)),
        ("idle_ms", _count(service, "EVENT_BATCH_IDLE_MS", None, 0))) if value is not None}
    if batch:
        settings["EVENT_BATCH"] = batch
    return settings


def retry_delays_ms() -> list[int]:
    """Backoff before each retry of a failed event handler (GRANTFLOW_RETRY_DELAYS_MS)."""
    return [int(d) for d in env("RETRY_DELAYS_MS", "1000,5000,30000").split(",")]


def http_host() -> str:
    """The address the HTTP APIs bind to and tools reach them on (``GRANTFLOW_HOST``)."""
    return env("HOST", "127.0.0.1")


def http_port(service: str) -> int:
    """A service's HTTP port: ``GRANTFLOW_<SERVICE>_PORT``, else its default."""
    text = env(f"{service.upper()}_PORT")
    if text is None:
        return HTTP_PORTS[service]
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValueError(f"GRANTFLOW_{service.upper()}_PORT must be a port number from 1 to "
                         f"65535, not {text!r}")
    return port


def base_url(service: str) -> str:
    """Where a service answers: ``GRANTFLOW_<SERVICE>_URL``, else this host's port for it."""
    return (env(f"{service.upper()}_URL")
            or f"http://{http_host()}:{http_port(service)}").rstrip("/")


def token_settings() -> dict:
    """``TOKENS`` of a service's config: issuer, audience, maximum hours per role."""
    hours = {}
    for item in (env("TOKEN_MAX_HOURS") or "").split(","):
        if not item.strip():
            continue
        role, _, value = item.partition("=")
        try:
            hours[role.strip()] = float(value)
        except ValueError:
            raise ValueError(f"GRANTFLOW_TOKEN_MAX_HOURS: {item!r} must be ROLE=HOURS, "
                             "e.g. operations=8") from None
    return {"issuer": env("TOKEN_ISSUER", "grantflow"),
            "audience": env("TOKEN_AUDIENCE", "grantflow-api"), "max_hours": hours}


def logging_config(level: str = "INFO") -> dict:
    """Every service's LOGGING: one console handler whose filter masks e-mail addresses and
    tokens and keeps nameko's multi-line report of a refused request out
    (:mod:`shared.logfilter`)."""
    return {
        "version": 1, "disable_existing_loggers": False,
        "filters": {"redact": {"()": "shared.logfilter.RedactingFilter"}},
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                                 "filters": ["redact"]}},
        "root": {"level": level, "handlers": ["console"]},
    }


def service_config(service: str, **overrides) -> dict:
    config = {
        # a service's own broker user (shared/messaging/permissions.py) when given
        "AMQP_URI": env(f"{service.upper()}_AMQP_URI") or env("AMQP_URI", DEFAULT_AMQP_URI),
        "WEB_SERVER_ADDRESS": f"{http_host()}:{http_port(service)}",
        "DATABASE_URL": database_url(service),
        "VAR_DIR": str(var_dir()),
        "CLOCK": clock_setting(),
        "ENV": env("ENV", "production"),
        # no default: the services refuse an empty secret outside development (shared.auth)
        "AUTH_SECRET": env("AUTH_SECRET", ""),
        "TOKENS": token_settings(),
        "IDEMPOTENCY": {"ttl_hours": float(env("IDEMPOTENCY_HOURS", "168"))},
        **consumer_settings(service),
        "DB_POOL": db_pool(service),
        "EVENT_RETRY": {"delays_ms": retry_delays_ms()},
        "OUTBOX_RELAY": {"batch_size": 500, "poll_interval": 0.5},
        "QUEUE_TYPE": env("QUEUE_TYPE", "classic"),
        "SMTP": {"host": env("SMTP_HOST", "127.0.0.1"), "port": int(env("SMTP_PORT", "1025")),
                 "sender": env("SMTP_SENDER", "no-reply@grantflow.example")},
        "SERVICE_URLS": {name: base_url(name) for name in SERVICES},
        "PAGES": {"public_url": env("PUBLIC_URL")} if env("PUBLIC_URL") else {},
        "GRANTS_AUTHORITY_EMAIL": env("GRANTS_AUTHORITY_EMAIL", "authority@grantflow.example"),
        "NOTIFY_OPERATIONS": [a.strip() for a in env("NOTIFY_OPERATIONS",
                                                     "operations@grantflow.example").split(",")
                              if a.strip()],
        "NOTIFY_DELIVERY": {"senders": int(env("MAIL_SENDERS", "3")),
                            "batch_size": int(env("MAIL_BATCH_SIZE", "50"))},
        "LOGGING": logging_config(env("LOG_LEVEL", "INFO")),
    }
    config.update(overrides)
    return config
