"""``python -m grantflow.launch``, which starts every service process (grantflow up, the
container entrypoint, the test stacks): a real process running a tiny nameko service that
needs no broker (a timer), stopped by SIGTERM as ``grantflow down`` stops it."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import yaml

# a service with a timer only: it reports the config it was given and whether the
# process is green (the socket module patched before anything used it)
PROBE = '''
import json, os, socket
from nameko.dependency_providers import Config
from nameko.timer import timer


class Probe:
    name = "probe"
    config = Config()

    @timer(interval=0.05)
    def report(self):
        with open(os.environ["PROBE_OUT"] + ".tmp", "w") as handle:
            json.dump({"marker": self.config["MARKER"],
                       "socket": socket.socket.__module__}, handle)
        os.replace(os.environ["PROBE_OUT"] + ".tmp", os.environ["PROBE_OUT"])
'''


def _launch(tmp_path, service: str, *python_options: str) -> subprocess.Popen:
    (tmp_path / "probe.py").write_text(PROBE)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"MARKER": "pa${HOME}ss"}))
    return subprocess.Popen(
        [sys.executable, *python_options, "-m", "grantflow.launch", "--config", str(config),
         service],
        cwd=tmp_path, env={"PROBE_OUT": str(tmp_path / "out.json"), "PATH": "/usr/bin:/bin",
                           "PYTHONWARNINGS": "ignore"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _report(tmp_path, process, timeout=30.0) -> dict:
    out = tmp_path / "out.json"
    deadline = time.monotonic() + timeout
    while not out.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the probe service never ran its timer"
        time.sleep(0.05)
    return json.loads(out.read_text())


def test_a_service_runs_green_with_its_config_as_written_and_stops_on_sigterm(tmp_path):
    process = _launch(tmp_path, "probe:Probe", "-X", "importtime")
    try:
        report = _report(tmp_path, process)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)

    assert report["socket"].startswith("eventlet."), report  # monkey-patched first
    # nameko's command line would have read ${HOME} as an environment variable
    assert report["marker"] == "pa${HOME}ss"
    assert process.returncode == 0, stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines()
                if line.startswith("import time:")}
    assert "nameko.runners" in imported  # the import log is there to read
    assert "pkg_resources" not in imported  # the eighth of a start this launcher saves


def test_an_unknown_service_class_exits_2_naming_it(tmp_path):
    process = _launch(tmp_path, "probe:Absent")
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 2
    assert "Failed to find service class 'Absent' in module 'probe'" in stderr
