"""Unit tests point CLI commands at addresses where nothing answers: they need not wait
for a restarting service the way a person's command does (that wait is tested in
tests/unit/test_http_client.py)."""
import pytest


@pytest.fixture(autouse=True)
def _commands_do_not_wait_long(monkeypatch):
    import grantflow.http
    monkeypatch.setattr(grantflow.http, "WAIT_SECONDS", 0.3)
