"""The service's settings, read once from the nameko config.

Config keys (all optional):
  NOTIFY_OPERATIONS      addresses of the operations team (digest, breach alerts);
                         default ["operations@grantflow.example"]
  NOTIFY_REMINDER_DAYS   days before an evaluation is due to remind the expert; [7, 2]
  NOTIFY_DELIVERY        {max_attempts: 50, first_retry_seconds: 0.5,
                          max_retry_seconds: 300, batch_size: 50, senders: 3}
                         (senders: batches sent at once, each on its own SMTP connection
                         and database connection; shared/config.py reads batch_size and
                         senders from GRANTFLOW_MAIL_BATCH_SIZE and GRANTFLOW_MAIL_SENDERS)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from nameko.extensions import DependencyProvider

from services.notifications.domain.delivery import RetryPolicy
from services.notifications.domain.notification import unique_recipients
from services.notifications.domain.reminders import DEFAULT_OFFSETS_DAYS
from shared.pages.settings import PageSettings

DEFAULT_OPERATIONS = ("operations@grantflow.example",)


@dataclass(frozen=True)
class Settings:
    operations: tuple[str, ...] = DEFAULT_OPERATIONS
    reminder_days: tuple[int, ...] = DEFAULT_OFFSETS_DAYS
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    batch_size: int = 50
    senders: int = 3
    pages: PageSettings = field(default_factory=PageSettings)  # sign-in links in mail

    @classmethod
    def from_config(cls, config: dict) -> "Settings":
        delivery = config.get("NOTIFY_DELIVERY") or {}
        days = tuple(sorted({int(d) for d in config.get("NOTIFY_REMINDER_DAYS")
                             or DEFAULT_OFFSETS_DAYS}, reverse=True))
        if any(d <= 0 for d in days):
            raise ValueError(f"NOTIFY_REMINDER_DAYS must be positive, not {days}")
        return cls(
            operations=tuple(unique_recipients(_addresses(config.get("NOTIFY_OPERATIONS"))
                                               or DEFAULT_OPERATIONS)),
            reminder_days=days,
            retry=RetryPolicy(
                max_attempts=int(delivery.get("max_attempts", 50)),
                first=timedelta(seconds=float(delivery.get("first_retry_seconds", 0.5))),
                cap=timedelta(seconds=float(delivery.get("max_retry_seconds", 300)))),
            batch_size=_positive(delivery, "batch_size", 50),
            senders=_positive(delivery, "senders", 3),
            pages=PageSettings.from_config(config))


def _positive(delivery: dict, key: str, default: int) -> int:
    value = int(delivery.get(key, default))
    if value < 1:
        raise ValueError(f"NOTIFY_DELIVERY {key} must be at least 1, not {value}")
    return value


def _addresses(value) -> list[str]:
    """A list, or one comma-separated string (as an environment variable gives it)."""
    if not value:
        return []
    return value.split(",") if isinstance(value, str) else list(value)


class SettingsProvider(DependencyProvider):
    def setup(self):
        self.settings = Settings.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings
