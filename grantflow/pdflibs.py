"""The system libraries WeasyPrint needs for PDF letters and summaries (Pango and a font).

WeasyPrint is a Python package, but it draws text with Pango, which pip cannot install.
``make demo`` and ``make test`` run this first, as they install Chromium and promtool::

    python -m grantflow.pdflibs            # apt-get install what is missing (as root)
    python -m grantflow.pdflibs --check    # only say whether it is there (exit 1 if not)

Exit codes: 0 ready, 1 an install failed, 3 cannot install here (no apt-get, not root).
"""
from __future__ import annotations

import argparse
import ctypes.util
import subprocess
import sys
from pathlib import Path

from grantflow import apt
from shared.documents.pdf import DEBIAN_PACKAGES

#: the shared libraries WeasyPrint opens (cffi's dlopen by these names)
LIBRARIES = ("pango-1.0", "pangoft2-1.0")
FONT_DIRECTORIES = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))


def _has_a_font() -> bool:
    return any(next(directory.rglob("*.ttf"), None) is not None
               for directory in FONT_DIRECTORIES if directory.is_dir())


def missing(find_library=ctypes.util.find_library, has_a_font=_has_a_font) -> list[str]:
    """What is absent: library names, or ``a font``."""
    absent = [f"lib{name}" for name in LIBRARIES if find_library(name) is None]
    return absent + ([] if has_a_font() else ["a font"])


def install(run=subprocess.run, out=sys.stdout, check=missing) -> int:
    code = apt.install(DEBIAN_PACKAGES, check, "the PDF libraries", run=run, out=out)
    if code == 0:
        print("Pango and a font for PDF documents are installed", file=out)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grantflow.pdflibs",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only report whether Pango and a font are installed")
    args = parser.parse_args(argv)
    if not args.check:
        return install()
    absent = missing()
    print("missing: " + ", ".join(absent) if absent else "Pango and a font are installed")
    return 1 if absent else 0


if __name__ == "__main__":
    sys.exit(main())
