"""grantflow.pdflibs: a fresh machine gets Pango and a font for WeasyPrint from apt-get, as
it gets Chromium and promtool; nothing is installed when they are there."""
import io
from types import SimpleNamespace

from grantflow import pdflibs
from shared.documents.pdf import DEBIAN_PACKAGES


def test_missing_names_each_library_and_the_font():
    assert pdflibs.missing(lambda name: None, lambda: False) == [
        "libpango-1.0", "libpangoft2-1.0", "a font"]
    assert pdflibs.missing(lambda name: f"lib{name}.so.0", lambda: True) == []


def test_what_is_missing_is_installed_with_apt_get(monkeypatch):
    monkeypatch.setattr(pdflibs.apt.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(pdflibs.apt.os, "geteuid", lambda: 0)
    state = {"absent": ["libpango-1.0"]}
    commands = []

    def run(command, env):
        commands.append(command)
        state["absent"] = []
        return SimpleNamespace(returncode=0)

    out = io.StringIO()
    assert pdflibs.install(run=run, out=out, check=lambda: state["absent"]) == 0
    assert commands == [["apt-get", "install", "-y", "--no-install-recommends",
                         *DEBIAN_PACKAGES]]
    assert "installed" in out.getvalue()


def test_nothing_runs_when_everything_is_there():
    assert pdflibs.install(run=None, out=io.StringIO(), check=lambda: []) == 0


def test_this_machine_has_them_after_make_test():
    """make test ran ``python -m grantflow.pdflibs`` before the suite."""
    assert pdflibs.missing() == []
