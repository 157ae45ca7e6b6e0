"""The submission domain imports only the standard library, shared.events,
shared.calls.model, shared.identifiers and its own package (architecture rule 1)."""
import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[3] / "services" / "submission" / "domain"
ALLOWED = ("shared.events", "shared.calls.model", "shared.identifiers",
           "services.submission.domain")


def imported_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def test_submission_domain_imports_nothing_else():
    files = sorted(DOMAIN.glob("*.py"))
    assert len(files) > 5
    for path in files:
        for module in imported_modules(path):
            ok = module.split(".")[0] in sys.stdlib_module_names or module == "__future__" or \
                any(module == a or module.startswith(a + ".") for a in ALLOWED)
            assert ok, f"{path.name} imports {module}"
