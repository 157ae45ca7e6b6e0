"""The operations domain imports only the standard library, shared.events,
shared.calls.model and itself (architecture rule 1)."""
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ALLOWED = ("shared.events", "shared.calls.model", "services.operations.domain")


def test_domain_imports_nothing_but_stdlib_shared_events_and_itself():
    files = sorted((ROOT / "services/operations/domain").glob("*.py"))
    assert len(files) >= 6
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for module in names:
                top = module.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__" or any(
                    module == a or module.startswith(a + ".") for a in ALLOWED), \
                    f"{path.name} imports {module}"
