"""Configuration of a service process, built from the environment in one place.

``grantflow up`` writes each service's nameko config file from :func:`service_config`;
tests call it with their own broker vhost, databases and SMTP port.

Environment (all optional):
  GRANTFLOW_AMQP_URI           amqp://guest:guest@127.0.0.1:5672//
  GRANTFLOW_DATABASE           sqlite (default, files under GRANTFLOW_VAR) | postgresql
  GRANTFLOW_PG_URL             postgresql://postgres@127.0.0.1:5432 (database grantflow_<svc>)
  GRANTFLOW_DB_PREFIX          grantflow (databases are named <prefix>_<service>)
  GRANTFLOW_<SVC>_DATABASE_URL overrides one service's database
  GRANTFLOW_CLOCK              wall | simulated (shared file GRANTFLOW_VAR/clock.json)
  GRANTFLOW_VAR                var
  GRANTFLOW_AUTH_SECRET        secret for development tokens
  GRANTFLOW_SMTP_HOST/PORT     127.0.0.1 / 1025
  GRANTFLOW_HOST               127.0.0.1 (address the HTTP APIs bind to)
  GRANTFLOW_<SVC>_PORT         a service's HTTP port (defaults: operations 8100, submission
                               8101, evaluation 8102, grants 8103, notifications 8104)
  GRANTFLOW_<SVC>_URL          where a tool reaches a service (default http://HOST:<port>)
  GRANTFLOW_PUBLIC_URL         the one public origin of the people's pages behind a proxy
                               (mailed sign-in links and links between services use it;
                               default: each service's GRANTFLOW_<SVC>_URL)
  GRANTFLOW_GRANTS_AUTHORITY_EMAIL   who signs for the granting authority (signature requests)
  GRANTFLOW_NOTIFY_OPERATIONS  comma-separated addresses of the operations team (digests, alerts)
"""
from __future__ import annotations

import os
from pathlib import Path

from shared.auth import DEFAULT_DEV_SECRET

SERVICES = ("submission", "evaluation", "grants", "notifications", "operations")
HTTP_PORTS = {"operations": 8100, "submission": 8101, "evaluation": 8102, "grants": 8103,
              "notifications": 8104}
SERVICE_CLASSES = {
    "submission": "services.submission.service:SubmissionService",
    "evaluation": "services.evaluation.service:EvaluationService",
    "grants": "services.grants.service:GrantsService",
    "notifications": "services.notifications.service:NotificationsService",
    "operations": "services.operations.service:OperationsService",
}
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432"


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


def service_config(service: str, **overrides) -> dict:
    config = {
        "AMQP_URI": env("AMQP_URI", DEFAULT_AMQP_URI),
        "WEB_SERVER_ADDRESS": f"{http_host()}:{http_port(service)}",
        "DATABASE_URL": database_url(service),
        "VAR_DIR": str(var_dir()),
        "CLOCK": clock_setting(),
        "AUTH_SECRET": env("AUTH_SECRET", DEFAULT_DEV_SECRET),
        "max_workers": int(env("MAX_WORKERS", "32")),
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
        "LOGGING": {
            "version": 1, "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
            "root": {"level": env("LOG_LEVEL", "INFO"), "handlers": ["console"]},
        },
    }
    config.update(overrides)
    return config
