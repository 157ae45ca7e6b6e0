"""Domain code imports only the standard library, shared.events, shared.calls.model,
shared.formatting (values shown to people) and its own package (architecture rule 1);
checked for both domains this work owns."""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOMAINS = {"services.grants.domain": ROOT / "services/grants/domain",
           "services.notifications.domain": ROOT / "services/notifications/domain"}


def imported_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


@pytest.mark.parametrize("package", DOMAINS)
def test_domain_imports_nothing_but_stdlib_shared_events_and_itself(package):
    allowed = ("shared.events", "shared.calls.model", "shared.formatting", package)
    files = sorted(DOMAINS[package].glob("*.py"))
    assert len(files) > 3
    for path in files:
        for module in imported_modules(path):
            top = module.split(".")[0]
            ok = top in sys.stdlib_module_names or top == "__future__" or \
                any(module == a or module.startswith(a + ".") for a in allowed)
            assert ok, f"{path.name} imports {module}"
