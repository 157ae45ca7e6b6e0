"""One stack of all five services shared by the HTTP security tests of the session
(starting five processes costs more than most of these tests), on its own vhost,
databases and SMTP server, with the bundled call published."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import SERVICES
from tests.support.infra import Databases, SmtpServer, Vhost

CALL_FILE = Path(__file__).resolve().parents[2] / "calls" / "AMIF-2018-AG-INTE.yaml"


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory):
    from tests.support.stack import Stack

    root = tmp_path_factory.mktemp("stack")
    vhost = Vhost().create()
    databases = Databases()
    smtp = SmtpServer(root / "mail").start()
    stack = Stack(root, vhost, databases, smtp)
    try:
        stack.declare_topology()
        stack.start(*SERVICES)
        loaded = stack.api("submission").post("/calls", data=CALL_FILE.read_bytes(),
                                              headers={"Content-Type": "application/yaml"})
        assert loaded.status_code in (200, 201), loaded.text
        yield stack
    finally:
        stack.stop_all()
        smtp.stop()
        databases.drop_all()
        vhost.delete()
