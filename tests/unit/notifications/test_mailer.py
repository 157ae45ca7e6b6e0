"""The SMTP adapter against a real SMTP server in this process (aiosmtpd, loopback)."""
import socket

import pytest
from aiosmtpd.controller import Controller

from grantflow.devsmtp import KeepingHandler, read_messages
from services.notifications.adapters.mailer import (OutgoingMail, PermanentMailError,
                                                    SmtpMailer, TransientMailError)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = free_port()
    controller = Controller(KeepingHandler(tmp_path, {"rejected.invalid"}),
                            hostname="127.0.0.1", port=port)
    controller.start()
    yield port, tmp_path
    controller.stop()


def mail(to="anna@comune.example.it", subject="[AMIF] Receipt for CITTÀ", body="Grüße\n"):
    return OutgoingMail(to, subject, body, "<d1@grantflow.notifications>")


def test_a_message_arrives_with_its_message_id_and_text(server):
    port, directory = server
    SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5).send(mail())
    [kept] = read_messages(directory)
    assert kept["rcpt_tos"] == ["anna@comune.example.it"]
    assert kept["message_id"] == "<d1@grantflow.notifications>"
    assert kept["subject"] == "[AMIF] Receipt for CITTÀ"
    assert kept["text"].splitlines() == ["Grüße"]  # CRLF on the wire


def test_a_refused_recipient_is_permanent_with_the_servers_reason(server):
    port, directory = server
    with pytest.raises(PermanentMailError, match="550 5.1.1"):
        SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5).send(
            mail(to="nobody@rejected.invalid"))
    assert read_messages(directory) == []


def test_a_server_that_is_down_is_transient_and_unreachable():
    mailer = SmtpMailer("127.0.0.1", free_port(), "no-reply@grantflow.test", timeout=2)
    with pytest.raises(TransientMailError) as down:
        mailer.send(mail())
    assert down.value.unreachable


def test_a_subject_with_a_line_break_cannot_be_built_and_is_permanent(server):
    port, _ = server
    with pytest.raises(PermanentMailError, match="cannot be built"):
        SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5).send(
            mail(subject="a\nBcc: victim@example.org"))
