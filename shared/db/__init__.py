"""Persistence plumbing: engines, migrations, unit of work, the nameko provider."""
from shared.db.types import Money, UtcDateTime  # noqa: F401
from shared.db.uow import NestedCommit, UnitOfWork  # noqa: F401
