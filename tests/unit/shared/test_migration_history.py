"""Each service's migrations form one line: a single head, every revision reachable.
(Several branches merged at once could leave two heads; the service would then refuse to
start with alembic's "Multiple head revisions".)"""
from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory

from shared.config import SERVICES
from shared.db.migrations import alembic_config


@pytest.mark.parametrize("service", SERVICES)
def test_one_line_of_revisions(service):
    scripts = ScriptDirectory.from_config(alembic_config(f"services.{service}:migrations"))
    assert len(scripts.get_heads()) == 1, scripts.get_heads()
    revisions = list(scripts.walk_revisions())
    assert revisions[-1].down_revision is None
    assert all(r.down_revision is None or isinstance(r.down_revision, str) for r in revisions)
