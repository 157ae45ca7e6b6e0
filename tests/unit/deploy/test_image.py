"""deploy/Dockerfile and its build context: python:3.11-slim, the project installed from the
copied tree, every COPY source present, and no data file the services read at run time
(migrations, templates, call files) filtered out of the context."""
from __future__ import annotations

import pytest

from tests.support.deploy_files import (
    DEPLOY, ROOT, copy_sources, dockerfile_instructions, dockerignore_patterns,
    ignored, run_time_data_files)

# BuildKit uses <Dockerfile>.dockerignore next to the Dockerfile, else the context root's
IGNORE_FILES = [DEPLOY / "Dockerfile.dockerignore", ROOT / ".dockerignore"]


def _effective_ignore_patterns() -> list[str]:
    for path in IGNORE_FILES:
        if path.exists():
            return dockerignore_patterns(path)
    return []


def test_base_image_entrypoint_and_user():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    values = dict(instructions)
    assert values["ENTRYPOINT"] == '["grantflow"]'
    assert values["USER"] not in ("0", "root")
    assert "GRANTFLOW_HOST=0.0.0.0" in " ".join(a for n, a in instructions if n == "ENV")


def test_the_project_is_installed_from_the_copied_tree():
    runs = " ".join(a for n, a in dockerfile_instructions() if n == "RUN")
    # editable: the services run from /app, next to their migrations and templates
    assert "pip install --no-deps -e ." in runs
    assert ("WORKDIR", "/app") in dockerfile_instructions()


def test_copy_sources_exist_in_the_build_context():
    patterns = _effective_ignore_patterns()
    sources = copy_sources(dockerfile_instructions())
    assert "." in sources and "pyproject.toml" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        if source != ".":
            assert not ignored(source, patterns), f"{source} is excluded from the context"


def test_run_time_data_files_reach_the_image():
    files = run_time_data_files()
    kinds = {path.split("/")[0] if path.startswith("calls/") else path.split("/")[2]
             for path in files}
    assert kinds == {"calls", "migrations", "templates"}, kinds
    patterns = _effective_ignore_patterns()
    dropped = [path for path in files if ignored(path, patterns)]
    assert not dropped, f"the build context drops {dropped[:5]}"


def test_python_packages_reach_the_image():
    patterns = _effective_ignore_patterns()
    for package in ("shared", "services", "grantflow"):
        assert not ignored(f"{package}/__init__.py", patterns)


@pytest.mark.parametrize("pattern,path,expected", [
    ("tests", "tests/unit/x.py", True),
    ("**/__pycache__", "services/a/__pycache__/m.pyc", True),
    ("*.egg-info", "grantflow.egg-info/PKG-INFO", True),
    ("*.yaml", "calls/a.yaml", False),          # no implicit **/ in .dockerignore
    ("calls/*.yaml", "calls/a.yaml", True),
    ("services/*/templates", "services/n/templates/a.j2", True),
])
def test_dockerignore_matching(pattern, path, expected):
    assert ignored(path, [pattern]) is expected
    assert ignored(path, [pattern, f"!{path}"]) is False


def test_context_leaves_out_local_state():
    patterns = _effective_ignore_patterns()
    for path in (".venv/bin/python", ".git/HEAD", "var/clock.json",
                 "services/x/__pycache__/a.pyc"):
        assert ignored(path, patterns), path
