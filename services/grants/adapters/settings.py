"""The grants service's own settings, read once from the container's config."""
from __future__ import annotations

import os
from dataclasses import dataclass

from nameko.extensions import DependencyProvider

DEFAULT_AUTHORITY_EMAIL = "authority@grantflow.example"


@dataclass(frozen=True)
class GrantsSettings:
    #: where the granting authority's signature requests go
    authority_email: str = DEFAULT_AUTHORITY_EMAIL


class SettingsProvider(DependencyProvider):
    """Config key ``GRANTS_AUTHORITY_EMAIL`` (``grantflow up`` passes no such key: the
    environment variable ``GRANTFLOW_GRANTS_AUTHORITY_EMAIL`` is read instead), else the
    default address."""

    def setup(self):
        email = (self.container.config.get("GRANTS_AUTHORITY_EMAIL")
                 or os.environ.get("GRANTFLOW_GRANTS_AUTHORITY_EMAIL")
                 or DEFAULT_AUTHORITY_EMAIL)
        self.settings = GrantsSettings(authority_email=email.strip().lower())

    def get_dependency(self, worker_ctx):
        return self.settings
