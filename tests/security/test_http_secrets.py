"""Issue 10, findings 1 and 8 (secrets and data at rest): no service runs with the public
development secret, an empty or a short one outside ENV=development; tokens carry an
issuer and an audience and live at most their role's maximum; development on a wall clock
and a public address warns; config files are 0600 in a 0700 directory; compose and
Kubernetes hold no working secret."""
from __future__ import annotations

import logging
import re
import shutil
import stat
import subprocess
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from shared import deployment
from shared.auth import (DEFAULT_DEV_SECRET, AuthError, SecretRefused, authenticate,
                         check_secret, issue_token)
from tests.support.deploy_files import COMPOSE_FILE, K8S, compose_services, environment
from tests.support.infra import eventually

STRONG = "x" * 40


# ------------------------------------------------------------------ the secret at start
@pytest.mark.parametrize("secret", [DEFAULT_DEV_SECRET, "", None, "short-secret"])
def test_a_weak_secret_is_refused_outside_development(secret):
    with pytest.raises(SecretRefused, match="GRANTFLOW_AUTH_SECRET"):
        check_secret(secret, "production")
    assert check_secret(secret, "development") == (secret or DEFAULT_DEV_SECRET)


def test_a_strong_secret_is_accepted():
    assert check_secret(STRONG, "production") == STRONG


@pytest.mark.integration
def test_a_service_will_not_start_with_the_development_secret_in_production(stack):
    from grantflow.processes import ServiceProcess

    config = {**stack.config("grants"), "ENV": "production"}
    process = ServiceProcess("grants", config, stack.tmp_path).start()
    try:
        eventually(lambda: not process.is_alive(), timeout=60,
                   message="grants exits instead of serving")
        log = process.tail_log(80)
        assert "GRANTFLOW_AUTH_SECRET is the public development secret" in log
        assert not process.healthy()
    finally:
        process.stop()


def test_committed_broker_credentials_are_refused_outside_development():
    config = {"ENV": "production", "AUTH_SECRET": STRONG,
              "AMQP_URI": "amqp://guest:guest@rabbitmq:5672//",
              "DATABASE_URL": "postgresql://grantflow:pw@postgres:5432/grantflow_grants"}
    with pytest.raises(deployment.DeploymentRefused, match="GRANTFLOW_AMQP_URI"):
        deployment.check_deployment(config)
    config["AMQP_URI"] = "amqp://grantflow:pw@rabbitmq:5672//"
    deployment.check_deployment(config)
    config["DATABASE_URL"] = "postgresql://postgres@postgres:5432/grantflow_grants"
    with pytest.raises(deployment.DeploymentRefused, match="GRANTFLOW_PG_URL"):
        deployment.check_deployment(config)


def test_development_on_a_wall_clock_and_a_public_address_warns_once(caplog, monkeypatch):
    monkeypatch.setattr(deployment, "_warned", False)
    config = {"ENV": "development", "CLOCK": "wall", "WEB_SERVER_ADDRESS": "0.0.0.0:8101"}
    with caplog.at_level(logging.WARNING, logger="grantflow.security"):
        deployment.check_deployment(config)
        deployment.check_deployment(config)
        deployment.check_deployment({**config, "WEB_SERVER_ADDRESS": "127.0.0.1:8101"})
    warnings = [r for r in caplog.records if "DEVELOPMENT MODE" in r.getMessage()]
    assert len(warnings) == 1 and "0.0.0.0" in warnings[0].getMessage()


# ------------------------------------------------------------------ tokens
def forged(claims: dict, secret: str = STRONG) -> str:
    """What an attacker or a careless tool would sign by hand (never how tests get tokens)."""
    return "Bearer " + jwt.encode(claims, secret, algorithm="HS256")


def test_tokens_need_the_issuer_and_audience():
    now = int(datetime.now(timezone.utc).timestamp())
    plain = {"sub": "ops@example.org", "role": "operations", "iat": now, "exp": now + 600}
    for claims in (plain, {**plain, "iss": "grantflow"}, {**plain, "aud": "grantflow-api"},
                   {**plain, "iss": "someone-else", "aud": "grantflow-api"},
                   {**plain, "iss": "grantflow", "aud": "another-api"}):
        with pytest.raises(AuthError) as refused:
            authenticate(STRONG, forged(claims))
        assert refused.value.status == 401
    good = authenticate(STRONG, forged({**plain, "iss": "grantflow", "aud": "grantflow-api"}))
    assert good.role == "operations"


def test_a_token_living_longer_than_its_role_allows_is_refused():
    now = datetime.now(timezone.utc)
    month = {"sub": "ops@example.org", "role": "operations", "iss": "grantflow",
             "aud": "grantflow-api", "iat": int(now.timestamp()),
             "exp": int((now + timedelta(days=30)).timestamp())}
    with pytest.raises(AuthError, match="at most 24 hours"):
        authenticate(STRONG, forged(month))
    assert authenticate(STRONG, forged({**month, "role": "applicant"})).role == "applicant"
    with pytest.raises(ValueError, match="at most 24 hours"):
        issue_token(STRONG, "ops@example.org", "operations", ttl=timedelta(days=30))


# ------------------------------------------------------------------ data at rest
def test_config_files_are_private(tmp_path):
    from grantflow.processes import ServiceProcess

    process = ServiceProcess("grants", {"AUTH_SECRET": STRONG}, tmp_path)
    process.config_path.parent.mkdir(parents=True)
    process.config_path.parent.chmod(0o755)
    process.config_path.write_text("old")
    process.config_path.chmod(0o644)
    process.service_class = "no.such:Service"  # nothing needs to run: the file is the point
    process.start()
    process.stop()
    assert stat.S_IMODE(process.config_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(process.config_path.parent.stat().st_mode) == 0o700
    assert STRONG in process.config_path.read_text()


def test_compose_requires_every_secret_from_an_uncommitted_env_file():
    text = COMPOSE_FILE.read_text()
    for variable in ("GRANTFLOW_AUTH_SECRET", "GRANTFLOW_RABBITMQ_PASSWORD",
                     "GRANTFLOW_POSTGRES_PASSWORD", "GRANTFLOW_GRAFANA_PASSWORD"):
        assert re.search(r"\$\{" + variable + r":\?[^}]+\}", text), variable
        assert f"\n{variable}=\n" in (COMPOSE_FILE.parent / ".env.example").read_text()
    services = compose_services()
    assert "guest" not in environment(services["operations"])["GRANTFLOW_AMQP_URI"]
    assert environment(services["rabbitmq"])["RABBITMQ_DEFAULT_PASS"].startswith("${")
    # Grafana's own default would be admin/admin
    assert environment(services["grafana"])["GF_SECURITY_ADMIN_PASSWORD"].startswith("${")
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=COMPOSE_FILE.parent)
    assert ignored.returncode == 0, ".env must be ignored by git"


def test_kubernetes_has_no_working_placeholder_secret(tmp_path):
    for path in K8S.glob("*.yaml"):
        text = path.read_text()
        assert "change-me" not in text and "kind: Secret" not in text, path.name
    for example in (K8S / "secrets").glob("*.example"):
        for line in example.read_text().splitlines():
            if re.match(r"^(GRANTFLOW_AUTH_SECRET|\w*PASS\w*)=", line):
                assert line.endswith("="), f"{example.name}: {line}"
    kubectl = shutil.which("kubectl")
    if kubectl is not None:  # without the uncommitted files the deployment does not build
        deploy = shutil.copytree(K8S.parent, tmp_path / "deploy",
                                 ignore=shutil.ignore_patterns("*.env", "erlang.cookie"))
        rendered = subprocess.run([kubectl, "kustomize", str(deploy / "k8s")],
                                  capture_output=True, text=True, timeout=60)
        assert rendered.returncode != 0 and "secrets/" in rendered.stderr
