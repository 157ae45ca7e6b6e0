from datetime import timedelta

import pytest

from services.notifications.adapters.settings import DEFAULT_OPERATIONS, Settings


def test_defaults():
    settings = Settings.from_config({})
    assert settings.operations == DEFAULT_OPERATIONS
    assert settings.reminder_days == (7, 2)
    assert settings.retry.max_attempts == 50 and settings.retry.cap == timedelta(minutes=5)


def test_operations_from_a_list_or_a_comma_separated_string_normalised():
    assert Settings.from_config({"NOTIFY_OPERATIONS": ["Ops@X.example", "ops@x.example"]}) \
        .operations == ("ops@x.example",)
    assert Settings.from_config({"NOTIFY_OPERATIONS": "a@x.example, b@x.example"}) \
        .operations == ("a@x.example", "b@x.example")


def test_reminder_days_most_distant_first_and_positive():
    assert Settings.from_config({"NOTIFY_REMINDER_DAYS": [1, 3, 3]}).reminder_days == (3, 1)
    with pytest.raises(ValueError, match="positive"):
        Settings.from_config({"NOTIFY_REMINDER_DAYS": [0]})


def test_delivery_knobs():
    settings = Settings.from_config({"NOTIFY_DELIVERY": {
        "max_attempts": 4, "first_retry_seconds": 2, "max_retry_seconds": 10, "batch_size": 5}})
    assert settings.batch_size == 5 and settings.retry.max_attempts == 4
    assert [settings.retry.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 10]


def test_mail_senders_and_batch_size_come_from_the_environment_and_must_be_positive(monkeypatch):
    from shared.config import service_config

    monkeypatch.setenv("GRANTFLOW_MAIL_SENDERS", "5")
    monkeypatch.setenv("GRANTFLOW_MAIL_BATCH_SIZE", "20")
    settings = Settings.from_config(service_config("notifications"))
    assert (settings.senders, settings.batch_size) == (5, 20)
    assert Settings.from_config({}).senders == 3
    with pytest.raises(ValueError, match="senders must be at least 1"):
        Settings.from_config({"NOTIFY_DELIVERY": {"senders": 0}})
