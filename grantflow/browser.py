"""Headless Chromium for the browser tests: Debian's ``chromium`` and ``chromium-driver``.

The operations page is tested in a real browser (tests/e2e/test_operations_page.py). A
fresh machine has neither package, and browser builds cannot be downloaded here, so the
set-up installs Debian's packages::

    python -m grantflow.browser            # install chromium + chromium-driver if missing
    python -m grantflow.browser --check    # only say whether they are there (exit 1 if not)

Installing runs ``apt-get install -y --no-install-recommends chromium chromium-driver``
(as root; ``apt-get update`` first when the package lists do not know them). Exit codes:
0 ready, 1 the install failed, 2 bad usage, 3 cannot install here (no apt-get, not root).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from grantflow import apt

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")
INSTALL_COMMAND = tuple(apt.install_command(PACKAGES))

#: Flags every headless run uses: no sandbox (we run as root), no GPU, and nothing that
#: reaches the network on its own (updates, sync, safe browsing lists).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                  "--window-size=1280,1600")


class BrowserMissing(RuntimeError):
    """Chromium or its driver is not installed; the message says how to install them."""


def missing() -> list[str]:
    """The executables (paths) that are not installed."""
    return [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


def require() -> None:
    """Raise :class:`BrowserMissing` with the install command unless both are present."""
    absent = missing()
    if absent:
        raise BrowserMissing(
            f"{' and '.join(absent)} not installed: the browser tests need Debian's "
            f"{' and '.join(PACKAGES)} packages. Install them with "
            f"`{sys.executable} -m grantflow.browser` (runs `{' '.join(INSTALL_COMMAND)}` "
            "as root).")


def chromium_flags(user_data_dir: str | os.PathLike) -> list[str]:
    """Command-line flags for one headless run with its own throwaway profile."""
    return [*CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}"]


def install(run=subprocess.run, out=sys.stdout) -> int:
    """Install the packages when missing; returns an exit code (see the module doc)."""
    code = apt.install(PACKAGES, lambda: missing(), "chromium", run=run, out=out)
    if code == 0:
        print(f"chromium and chromedriver are installed ({CHROMIUM}, {CHROMEDRIVER})", file=out)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grantflow.browser",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only report whether chromium and chromedriver are installed")
    args = parser.parse_args(argv)
    if args.check:
        try:
            require()
        except BrowserMissing as exc:
            print(exc)
            return 1
        print("chromium and chromedriver are installed")
        return 0
    return install()


if __name__ == "__main__":
    sys.exit(main())
