"""Install Debian packages the test set-up needs (``apt-get``, as root), or say how.

Shared by :mod:`grantflow.browser` (Chromium) and :mod:`grantflow.validators` (promtool).
Exit codes of :func:`install`: 0 ready, 1 the install failed, 3 cannot install here (no
apt-get, not root).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Callable, Sequence


def install_command(packages: Sequence[str]) -> list[str]:
    return ["apt-get", "install", "-y", "--no-install-recommends", *packages]


def install(packages: Sequence[str], missing: Callable[[], list[str]], what: str,
            run=subprocess.run, out=sys.stdout) -> int:
    """Install ``packages`` unless ``missing()`` (the paths still absent) is empty."""
    if not missing():
        return 0
    command = install_command(packages)
    if shutil.which("apt-get") is None:
        print(f"cannot install {what}: apt-get is not available on this machine; install "
              f"the equivalent of Debian's {' and '.join(packages)} so that "
              f"{', '.join(missing())} exist", file=out)
        return 3
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        print(f"cannot install {what}: run as root (`sudo {' '.join(command)}`)", file=out)
        return 3
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"installing {' '.join(packages)} with apt-get ...", file=out, flush=True)
    if run(command, env=env).returncode != 0:
        # a fresh machine's package lists may not know them yet
        print("apt-get install failed; updating the package lists and trying again",
              file=out, flush=True)
        run(["apt-get", "update"], env=env)
        if run(command, env=env).returncode != 0:
            print(f"apt-get could not install {' '.join(packages)}", file=out)
            return 1
    if missing():
        print(f"installed, but still missing: {', '.join(missing())}", file=out)
        return 1
    return 0
