"""The layout's rules, checked on the source (architecture guide, section 4):
domain packages import no framework, shared/ never imports services/, and no service reads
another service's code."""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "service.py").exists())
# what domain code may import besides the standard library and its own package
DOMAIN_ALLOWED = ("shared.events", "shared.calls.model", "shared.formatting",
                  "shared.identifiers")
# numbers for the assignment's vectorised affinity (evaluation/domain/affinity.py)
DOMAIN_EXTRA = {"evaluation": ("numpy",)}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def third_party(module: str) -> bool:
    top = module.split(".")[0]
    return top not in sys.stdlib_module_names and top != "__future__"


@pytest.mark.parametrize("service", SERVICES)
def test_domain_code_imports_no_framework(service):
    own = f"services.{service}.domain"
    allowed = DOMAIN_ALLOWED + (own,) + DOMAIN_EXTRA.get(service, ())
    offending = {f"{path.relative_to(ROOT)}: {module}"
                 for path in (ROOT / "services" / service / "domain").rglob("*.py")
                 for module in imports(path)
                 if third_party(module) and not module.startswith(allowed)}
    assert offending == set()


def test_shared_never_imports_services():
    offending = {f"{path.relative_to(ROOT)}: {module}"
                 for path in (ROOT / "shared").rglob("*.py") for module in imports(path)
                 if module.split(".")[0] in ("services", "grantflow")}
    assert offending == set()


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_uses_no_other_services_code(service):
    others = tuple(f"services.{name}" for name in SERVICES if name != service)
    offending = {f"{path.relative_to(ROOT)}: {module}"
                 for path in (ROOT / "services" / service).rglob("*.py")
                 for module in imports(path) if module.startswith(others)}
    assert offending == set()
