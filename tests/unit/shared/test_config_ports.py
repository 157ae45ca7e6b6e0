"""Stacks side by side: every HTTP port and the host come from the environment."""
from __future__ import annotations

import pytest

from shared.config import HTTP_PORTS, base_url, service_config


def test_default_ports_and_host(monkeypatch):
    for name in HTTP_PORTS:
        monkeypatch.delenv(f"GRANTFLOW_{name.upper()}_PORT", raising=False)
        monkeypatch.delenv(f"GRANTFLOW_{name.upper()}_URL", raising=False)
    monkeypatch.delenv("GRANTFLOW_HOST", raising=False)
    assert service_config("grants")["WEB_SERVER_ADDRESS"] == "127.0.0.1:8103"
    assert base_url("grants") == "http://127.0.0.1:8103"


def test_port_and_host_from_the_environment(monkeypatch):
    monkeypatch.setenv("GRANTFLOW_HOST", "127.0.0.7")
    monkeypatch.setenv("GRANTFLOW_GRANTS_PORT", "9203")
    monkeypatch.delenv("GRANTFLOW_GRANTS_URL", raising=False)
    assert service_config("grants")["WEB_SERVER_ADDRESS"] == "127.0.0.7:9203"
    assert base_url("grants") == "http://127.0.0.7:9203"
    assert service_config("submission")["SERVICE_URLS"]["grants"] == "http://127.0.0.7:9203"


@pytest.mark.parametrize("value", ["0", "65536", "http", ""])
def test_a_bad_port_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("GRANTFLOW_EVALUATION_PORT", value)
    with pytest.raises(ValueError, match="GRANTFLOW_EVALUATION_PORT"):
        service_config("evaluation")
