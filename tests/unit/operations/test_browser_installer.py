"""grantflow.browser: installs Debian's chromium and chromedriver when missing, and says
exactly what to run when it cannot."""
import io
from types import SimpleNamespace

import pytest

from grantflow import browser


def _missing(monkeypatch, *paths):
    monkeypatch.setattr(browser, "missing", lambda: list(paths))


def test_require_names_the_missing_executable_and_the_install_command(monkeypatch):
    _missing(monkeypatch, "/usr/bin/chromium")
    with pytest.raises(browser.BrowserMissing) as raised:
        browser.require()
    assert "/usr/bin/chromium not installed" in str(raised.value)
    assert "-m grantflow.browser" in str(raised.value)
    assert "apt-get install -y --no-install-recommends chromium chromium-driver" in \
        str(raised.value)


def test_install_does_nothing_when_both_are_there(monkeypatch):
    _missing(monkeypatch)
    calls = []
    assert browser.install(run=lambda *a, **k: calls.append(a), out=io.StringIO()) == 0
    assert calls == []


def test_install_runs_apt_and_updates_the_lists_when_the_first_try_fails(monkeypatch):
    state = {"installed": False}
    monkeypatch.setattr(browser, "missing", lambda: [] if state["installed"] else ["x"])
    monkeypatch.setattr(browser.apt.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(browser.apt.os, "geteuid", lambda: 0)
    commands = []

    def run(command, env):
        commands.append(command)
        assert env["DEBIAN_FRONTEND"] == "noninteractive"
        if command[:2] == ["apt-get", "install"] and len(commands) == 3:
            state["installed"] = True
            return SimpleNamespace(returncode=0)
        return SimpleNamespace(returncode=100 if command[1] == "install" else 0)

    assert browser.install(run=run, out=io.StringIO()) == 0
    assert commands == [list(browser.INSTALL_COMMAND), ["apt-get", "update"],
                        list(browser.INSTALL_COMMAND)]


def test_install_without_apt_says_so(monkeypatch):
    _missing(monkeypatch, "/usr/bin/chromium")
    monkeypatch.setattr(browser.apt.shutil, "which", lambda name: None)
    out = io.StringIO()
    assert browser.install(run=None, out=out) == 3
    assert "apt-get is not available" in out.getvalue()


def test_every_headless_run_gets_its_own_profile_and_no_network_extras(tmp_path):
    flags = browser.chromium_flags(tmp_path)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"):
        assert flag in flags
    assert f"--user-data-dir={tmp_path}" in flags
