"""The SMTP adapter against a real SMTP server in this process (aiosmtpd, loopback)."""
import os
import socket
import threading
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from grantflow.devsmtp import MBOX, KeepingHandler, read_kept, read_messages
from services.notifications.adapters.mailer import (OutgoingMail, PermanentMailError,
                                                    SmtpMailer, TransientMailError)
from services.notifications.adapters.message_text import POLICY, build_standard, flatten
from tests.support.infra import free_port


@contextmanager
def serving(handler, **options):
    """The dev server with ``handler`` on a free loopback port (yielded) while inside;
    ``options`` for aiosmtpd's SMTP (``enable_SMTPUTF8``); the handler is closed after."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
        handler.close()


@pytest.fixture(params=[True, False], ids=["pipelining", "one-command-at-a-time"])
def server(tmp_path, request):
    """The dev server, offering PIPELINING or not: every test here runs both ways."""
    with serving(KeepingHandler(tmp_path, {"rejected.invalid"},
                                pipelining=request.param)) as port:
        yield port, tmp_path


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


def test_a_line_starting_with_a_dot_arrives_as_written(server):
    port, directory = server
    body = ".hidden\n..two dots\n.\nend\n"
    SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5).send(mail(body=body))
    [kept] = read_messages(directory)
    assert kept["text"].replace("\r\n", "\n") == body


def test_a_refused_sender_is_permanent_and_the_session_goes_on(tmp_path):
    """MAIL refused: the RCPT and DATA sent with it are answered 503 and not reported;
    the transaction is reset and the next message goes through on the same session."""
    class RefusingTheFirstSender(KeepingHandler):
        refused = 0

        async def handle_MAIL(self, server, session, envelope, address, mail_options):
            if not self.refused:
                self.refused += 1
                return "550 5.7.1 sender not allowed now"
            envelope.mail_from = address
            return "250 OK"

    with serving(RefusingTheFirstSender(tmp_path, set())) as port:
        mailer = SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5)
        with mailer.connection() as smtp:
            with pytest.raises(PermanentMailError, match="^sender refused: 550 5.7.1"):
                smtp.send(mail(to="a@example.org"))
            first = smtp.smtp
            smtp.send(mail(to="b@example.org"))
            assert smtp.smtp is first
    assert [m["rcpt_tos"] for m in read_messages(tmp_path)] == [["b@example.org"]]


class OneSession(threading.Thread):
    """One SMTP session on a raw loopback socket that offers PIPELINING: after the
    greeting and EHLO, :meth:`session` reads its lines and ``answer``s."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def run(self):
        connection, _ = self.listener.accept()
        with connection, connection.makefile("rb") as lines:
            def answer(*replies):
                connection.sendall(b"".join(reply + b"\r\n" for reply in replies))
            answer(b"220 scripted ESMTP")
            lines.readline()  # EHLO
            answer(b"250-scripted", b"250-PIPELINING", b"250 HELP")
            self.session(lines, answer)

    def session(self, lines, answer):
        raise NotImplementedError


class ScriptedServer(OneSession):
    """A session that answers nothing of a transaction before it has read MAIL, RCPT and
    DATA: a client that waits for each reply before its next command times out here.
    ``replies`` are its answers to the three; after a 354 it keeps the text it reads up
    to the lone dot."""

    def __init__(self, replies=(b"250 OK", b"250 OK", b"354 go ahead"), hang_up=None):
        super().__init__()
        self.replies, self.before_any_reply, self.texts = replies, [], []
        self.hang_up = hang_up  # "envelope": before answering it; "text": after reading it

    def session(self, lines, answer):
        while True:
            command = lines.readline()
            if not command:  # the client dropped the session
                return
            if command.upper().startswith(b"QUIT"):
                answer(b"221 bye")
                return
            if not command.upper().startswith(b"MAIL"):
                answer(b"250 OK")  # RSET
                continue
            group = [command, lines.readline(), lines.readline()]
            self.before_any_reply.append([c.split(b":")[0].strip().upper() for c in group])
            if self.hang_up == "envelope":
                return
            answer(*self.replies)
            if self.replies[2].startswith(b"354"):
                text = b""
                while not text.endswith(b"\r\n.\r\n"):
                    chunk = lines.readline()
                    if not chunk:
                        return
                    text += chunk
                self.texts.append(text)
                if self.hang_up == "text":
                    return
                answer(b"250 kept")


def test_the_envelope_goes_in_one_write_where_the_server_pipelines():
    server = ScriptedServer()
    server.start()
    mailer = SmtpMailer("127.0.0.1", server.port, "no-reply@grantflow.test", timeout=3)
    with mailer.connection() as smtp:
        smtp.send(mail(to="a@example.org", body=".dot\nline\n"))
        smtp.send(mail(to="b@example.org"))
    server.join(5)
    assert server.before_any_reply == [[b"MAIL FROM", b"RCPT TO", b"DATA"]] * 2
    assert server.texts[0].endswith(b"\r\n\r\n..dot\r\nline\r\n.\r\n")


class LookingAheadServer(OneSession):
    """A pipelining session for ``messages`` messages that answers each text (but the
    last) only once it has read the next message's MAIL, RCPT and DATA: a client that
    waits for a text's reply before it sends the next envelope times out here. What
    follows the 354 of a message whose text never ends is kept in ``unfinished``."""

    def __init__(self, messages: int):
        super().__init__()
        self.messages, self.texts, self.ahead, self.unfinished = messages, [], [], None

    def session(self, lines, answer):
        def group():
            return [lines.readline().split(b":")[0].strip().upper() for _ in range(3)]

        group()
        for n in range(self.messages):
            answer(b"250 OK", b"250 OK", b"354 go ahead")
            text = b""
            while not text.endswith(b"\r\n.\r\n"):
                line = lines.readline()
                if not line:
                    self.unfinished = text
                    return
                text += line
            self.texts.append(text)
            if n + 1 < self.messages:
                self.ahead.append(group())  # before the text's reply
            answer(b"250 kept")
        if lines.readline().upper().startswith(b"QUIT"):
            answer(b"221 bye")


def test_each_text_carries_the_next_envelope_one_round_trip_a_message():
    server = LookingAheadServer(messages=3)
    server.start()
    mailer = SmtpMailer("127.0.0.1", server.port, "no-reply@grantflow.test", timeout=3)
    first, second, third = (mail(to=f"{n}@example.org", body=f"text {n}\n") for n in "abc")
    with mailer.connection() as smtp:
        smtp.send(first, then=second)
        smtp.send(second, then=third)
        smtp.send(third)
    server.join(5)
    assert server.ahead == [[b"MAIL FROM", b"RCPT TO", b"DATA"]] * 2
    assert [text.split(b"\r\n\r\n")[1] for text in server.texts] == [
        b"text a\r\n.\r\n", b"text b\r\n.\r\n", b"text c\r\n.\r\n"]


def test_a_session_left_with_an_envelope_announced_is_closed_without_a_word():
    """The server waits for the announced message's text: QUIT would be read as its first
    line. The connection is closed bare, and the unfinished message is dropped."""
    server = LookingAheadServer(messages=2)
    server.start()
    mailer = SmtpMailer("127.0.0.1", server.port, "no-reply@grantflow.test", timeout=3)
    with mailer.connection() as smtp:
        smtp.send(mail(to="a@example.org"), then=mail(to="b@example.org"))
    server.join(5)
    assert len(server.texts) == 1 and server.unfinished == b""


def test_announced_envelopes_keep_every_outcome_as_it_was(server):
    """A refused recipient announced with the previous text is refused when its message
    is sent, as before; the next message goes on the same session (without PIPELINING
    nothing is announced, with the same outcomes)."""
    port, directory = server
    mailer = SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5)
    a, nobody, b = (mail(to="a@example.org"), mail(to="nobody@rejected.invalid"),
                    mail(to="b@example.org"))
    with mailer.connection() as smtp:
        smtp.send(a, then=nobody)
        first = smtp.smtp
        with pytest.raises(PermanentMailError, match="recipient refused: .*550 5.1.1"):
            smtp.send(nobody, then=b)
        smtp.send(b)
        assert smtp.smtp is first
    assert [m["rcpt_tos"] for m in read_messages(directory)] == [["a@example.org"],
                                                                 ["b@example.org"]]


def test_a_refused_text_leaves_the_envelope_sent_with_it_waiting_for_its_own(tmp_path):
    """After a refused text no RSET goes: the server already reads the announced
    message's text, which RSET would become."""
    class RefusingTheFirstText(KeepingHandler):
        refused = 0

        async def handle_DATA(self, server, session, envelope):
            if not self.refused:
                self.refused += 1
                return "554 5.6.0 content refused"
            return await super().handle_DATA(server, session, envelope)

    with serving(RefusingTheFirstText(tmp_path, set())) as port:
        mailer = SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5)
        with mailer.connection() as smtp:
            with pytest.raises(PermanentMailError, match="554 5.6.0"):
                smtp.send(mail(to="a@example.org"), then=mail(to="b@example.org",
                                                             body="only this\n"))
            session = smtp.smtp
            smtp.send(mail(to="b@example.org", body="only this\n"))
            assert smtp.smtp is session is not None  # not a session lost to a stray RSET
    [kept] = read_messages(tmp_path)
    assert kept["rcpt_tos"] == ["b@example.org"] and kept["text"] == "only this\r\n"


@pytest.mark.parametrize("hang_up, uncertain", [("envelope", False), ("text", True)])
def test_a_session_lost_before_the_text_is_certain_after_it_uncertain(hang_up, uncertain):
    """Gone before answering the pipelined envelope: the server cannot have the message
    (sent again without a second thought). Gone once the text went: it may have it."""
    server = ScriptedServer(hang_up=hang_up)
    server.start()
    mailer = SmtpMailer("127.0.0.1", server.port, "no-reply@grantflow.test", timeout=3)
    with pytest.raises(TransientMailError) as lost:
        mailer.send(mail())
    server.join(5)
    assert lost.value.uncertain is uncertain
    assert len(server.texts) == (1 if uncertain else 0)


def test_a_pipelined_envelope_refuses_an_address_that_would_add_a_command():
    """Building the message refuses such a recipient first (the To header); the envelope
    refuses it on its own too, as smtplib's one-command-at-a-time path does."""
    server = ScriptedServer()
    server.start()
    mailer = SmtpMailer("127.0.0.1", server.port, "no-reply@grantflow.test", timeout=3)
    with mailer.connection() as smtp:
        smtp.smtp = smtp._open()
        with pytest.raises(PermanentMailError, match="line break"):
            smtp._envelope("a@example.org>\r\nRCPT TO:<victim@example.org")
    server.join(5)
    assert server.before_any_reply == []


def test_a_server_that_wants_a_text_for_a_refused_envelope_gets_none():
    """RFC 2920 says a server refuses DATA when no recipient was accepted; one that
    answers 354 anyway is left (the session dropped) rather than sent an empty text."""
    server = ScriptedServer((b"250 OK", b"550 5.1.1 no such user", b"354 go ahead"))
    server.start()
    mailer = SmtpMailer("127.0.0.1", server.port, "no-reply@grantflow.test", timeout=3)
    with mailer.connection() as smtp:
        with pytest.raises(PermanentMailError, match="recipient refused: .*550 5.1.1"):
            smtp.send(mail(to="nobody@example.org"))
        assert smtp.smtp is None
    server.join(5)
    assert server.texts == []


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


def test_every_message_has_the_senders_from_header_parsed_once(server):
    port, directory = server
    mailer = SmtpMailer("127.0.0.1", port, "Grantflow <no-reply@grantflow.test>", timeout=5)
    with mailer.connection() as smtp:
        smtp.send(mail(to="a@example.org"))
        smtp.send(mail(to="b@example.org"))
    kept = [message_from_bytes(raw, policy=policy.default) for raw in read_kept(directory)]
    assert [(m["From"].addresses[0].display_name, m["From"].addresses[0].addr_spec)
            for m in kept] == [("Grantflow", "no-reply@grantflow.test")] * 2
    assert sorted(str(m["To"]) for m in kept) == ["a@example.org", "b@example.org"]


def standard(message, sender="Grantflow <no-reply@grantflow.test>") -> EmailMessage:
    """``message`` as the standard library's default policy builds it."""
    built = EmailMessage()
    built["From"], built["To"] = sender, message.recipient
    built["Subject"], built["Message-ID"] = message.subject, message.message_id
    built.set_content(message.body)
    return built


MESSAGES = {
    "accented subject and body": mail(),
    "address not ASCII, long subject": mail(to="anna.müller@comune.example.it",
                                            subject="Résultat: " + "long words " * 12),
    "ASCII, many lines": mail(subject="plain ASCII", body="line\n" * 300),
    "long accented subject and lines": mail(subject="Évaluation terminée " * 8,
                                            body=("ž" * 200 + "\n") * 3),
    "a long link": mail(subject="link", body="http://x.example/?token=" + "A1b2=" * 60 + "\n"),
    "From line, equals signs, trailing spaces, dots": mail(
        subject="a = b", body="From here \n=3D\n.dot\n\nend  \n"),
    "empty body": mail(subject="nothing", body=""),
}


@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_the_text_sent_reads_back_as_the_standard_policys_message(case):
    """Whichever way it is built (compat32's classes for an ASCII envelope, the default
    policy with raw UTF-8 headers for one that is not), a reader under the default policy
    finds what it finds in the default policy's own text, in lines of at most 78
    characters."""
    message = MESSAGES[case]
    mailer = SmtpMailer("127.0.0.1", 25, "Grantflow <no-reply@grantflow.test>")
    sent = message_from_bytes(mailer.build(message), policy=policy.default)
    expected = message_from_bytes(flatten(standard(message), utf8=True), policy=policy.default)
    assert [(name, str(sent[name])) for name in ("From", "To", "Subject", "Message-ID")] == \
        [(name, str(expected[name])) for name in ("From", "To", "Subject", "Message-ID")]
    assert sent.get_content_type() == "text/plain"
    # line ends as CRLF: a base64 text (the default policy's choice for most lines not
    # ASCII) reads back with the LF it was encoded with, a quoted-printable one with the
    # CRLF of the lines it was sent in
    assert sent.get_content().replace("\r\n", "\n") == \
        expected.get_content().replace("\r\n", "\n")
    assert max(len(line) for line in mailer.build(message).decode().split("\r\n")) <= 78


@pytest.mark.parametrize("header", ["recipient", "subject", "message_id"])
def test_a_header_value_with_a_line_break_cannot_be_built(header):
    """compat32 writes header values as given: the ASCII path refuses line breaks itself,
    as the default policy does (a subject must not add a Bcc: line)."""
    fields = {"recipient": "a@example.org", "subject": "hello", "message_id": "<m@x>"}
    fields[header] = fields[header][:2] + "\r\nBcc: victim@example.org"
    mailer = SmtpMailer("127.0.0.1", 25, "no-reply@grantflow.test")
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        mailer.build(OutgoingMail(fields["recipient"], fields["subject"], "body\n",
                                  fields["message_id"]))


def test_the_standard_message_is_the_default_policys_its_header_classes_made_once():
    message = MESSAGES["address not ASCII, long subject"]
    _, sender = POLICY.header_store_parse("From", "Grantflow <no-reply@grantflow.test>")

    def built():
        return build_standard(sender, message.recipient, message.subject, message.message_id,
                              message.body)
    first, second = built(), built()
    assert flatten(first, utf8=True) == flatten(standard(message), utf8=True)
    assert [type(first[name]) for name in first.keys()] == \
        [type(second[name]) for name in second.keys()]


@pytest.mark.parametrize("pipelining", [True, False])
def test_an_address_that_is_not_ascii_goes_with_smtputf8_and_raw_utf8_headers(tmp_path,
                                                                              pipelining):
    """The one path that still builds under the default policy, through a server that
    offers SMTPUTF8; the message between two ASCII ones on the same connection."""
    with serving(KeepingHandler(tmp_path, set(), pipelining=pipelining),
                 enable_SMTPUTF8=True) as port:
        mailer = SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5)
        with mailer.connection() as smtp:
            smtp.send(mail(to="a@example.org"), then=mail(to="zoë@bücher.example"))
            smtp.send(mail(to="zoë@bücher.example"), then=mail(to="b@example.org"))
            smtp.send(mail(to="b@example.org"))
    kept = read_messages(tmp_path)
    assert [m["rcpt_tos"] for m in kept] == [["a@example.org"], ["zoë@bücher.example"],
                                              ["b@example.org"]]
    assert {m["to"] for m in kept} == {"a@example.org", "zoë@bücher.example", "b@example.org"}
    assert {m["subject"] for m in kept} == {"[AMIF] Receipt for CITTÀ"}
    assert [m["text"].splitlines() for m in kept] == [["Grüße"]] * 3


def test_a_sender_with_a_line_break_is_refused_when_the_mailer_is_made():
    with pytest.raises(ValueError, match="SMTP sender .* cannot be a From header: .*linefeed"):
        SmtpMailer("127.0.0.1", 25, "no-reply@grantflow.test\nBcc: victim@example.org")


def test_a_batch_shares_one_connection_a_refused_recipient_does_not_end_it(server):
    port, directory = server
    mailer = SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5)
    with mailer.connection() as smtp:
        smtp.send(mail(to="a@example.org"))
        first = smtp.smtp
        with pytest.raises(PermanentMailError, match="550 5.1.1"):
            smtp.send(mail(to="nobody@rejected.invalid"))
        smtp.send(mail(to="b@example.org"))
        assert smtp.smtp is first  # the same SMTP session all along
    assert [m["rcpt_tos"] for m in read_messages(directory)] == [["a@example.org"],
                                                                 ["b@example.org"]]
    assert mailer.state.as_dict()["state"] == "up"


def test_a_connection_the_server_dropped_while_idle_is_opened_again(server):
    port, directory = server
    mailer = SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5)
    with mailer.connection() as smtp:
        smtp.send(mail(to="a@example.org"))
        smtp.smtp.sock.shutdown(socket.SHUT_RDWR)  # as a server's idle timeout would
        smtp.send(mail(to="b@example.org"))
    assert len(read_messages(directory)) == 2


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(server, caplog):
    port, _ = server
    mailer = SmtpMailer("127.0.0.1", free_port(), "no-reply@grantflow.test", timeout=2)
    caplog.set_level("INFO", logger="services.notifications.adapters.mailer")
    for _ in range(3):
        with pytest.raises(TransientMailError):
            mailer.send(mail())
    state = mailer.state.as_dict()
    assert state["state"] == "down" and "ConnectionRefused" in state["last_error"]
    mailer.port = port  # the server is back
    mailer.send(mail())
    mailer.send(mail())
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "does not answer" in lines[0] and "answers again" in lines[1]
    assert mailer.state.as_dict()["state"] == "up"


def _delivery_timer(interval: float):
    from services.notifications.adapters.mailer import DeliveryTimer, MailerProvider

    provider = MailerProvider()
    provider.container = type("Container", (), {"config": {}})()
    provider.setup()
    timer = DeliveryTimer(interval=interval)
    ticks = []

    def spawn_worker(entrypoint, args, kwargs, handle_result):
        ticks.append(provider.mailer.stopping.is_set())
        handle_result(None, None, None)

    import eventlet
    timer.container = type("Container", (), {
        "dependencies": [provider], "spawn_managed_thread": staticmethod(eventlet.spawn),
        "spawn_worker": staticmethod(spawn_worker)})()
    return timer, provider.mailer, ticks


def test_stopping_the_delivery_timer_tells_the_mailer_before_it_waits_for_the_batch():
    timer, mailer, _ = _delivery_timer(0.5)
    seen = []
    timer.start()
    running = timer.gt
    timer.gt = type("Thread", (), {"wait": lambda self: (seen.append(mailer.stopping.is_set()),
                                                         running.wait())})()
    timer.stop()
    assert seen == [True]  # set before the timer waits for the running batch


def test_queued_mail_wakes_the_delivery_timer_at_once_and_wakes_coalesce():
    import eventlet

    timer, mailer, ticks = _delivery_timer(30.0)  # the next tick would be in 30 s
    timer.start()
    eventlet.sleep(0.05)
    assert ticks == []
    mailer.wake()
    mailer.wake()  # a second wake before the delivery ran: one delivery
    eventlet.sleep(0.05)
    assert ticks == [False]
    mailer.wake()
    eventlet.sleep(0.05)
    assert ticks == [False, False]
    with eventlet.Timeout(1):  # stopping does not wait for the 30 s tick
        timer.stop()


def test_concurrent_sessions_are_all_kept_each_once(server):
    """Eight sessions at once, kept by several writer threads (appends under a lock,
    syncs together): every message lands once, whole in the mbox and in the log."""
    port, directory = server
    from concurrent.futures import ThreadPoolExecutor

    def send(n: int) -> None:
        SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=10).send(
            OutgoingMail(f"p{n}@comune.example.it", f"Receipt {n}", "Thanks\n",
                         f"<c{n}@grantflow.notifications>"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(40)))

    kept = read_messages(directory)
    assert sorted(k["message_id"] for k in kept) == sorted(
        f"<c{n}@grantflow.notifications>" for n in range(40))
    whole = [message_from_bytes(raw, policy=policy.default) for raw in read_kept(directory)]
    assert sorted(m["Message-ID"] for m in whole) == sorted(
        f"<c{n}@grantflow.notifications>" for n in range(40))
    assert all(m.get_content() == "Thanks\n" for m in whole)


def test_a_server_started_again_on_its_directory_keeps_what_it_had_and_appends(tmp_path):
    """The mbox is appended to across restarts (as after a crash), in the order accepted
    (one connection, each message after the last one's 250), each message whole, the log
    beside it."""
    def serve_and_send(ids):
        with serving(KeepingHandler(tmp_path, set())) as port:
            mailer = SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=10)
            with mailer.connection() as smtp:
                for n in ids:
                    smtp.send(OutgoingMail(f"p{n}@comune.example.it", f"Receipt {n}",
                                           f"From the call {n}\nThanks\n", f"<r{n}@g.test>"))

    serve_and_send([1, 2])
    serve_and_send([3])
    kept = [message_from_bytes(raw, policy=policy.default) for raw in read_kept(tmp_path)]
    assert [m["Message-ID"] for m in kept] == ["<r1@g.test>", "<r2@g.test>", "<r3@g.test>"]
    assert [m["To"] for m in kept] == [f"p{n}@comune.example.it" for n in (1, 2, 3)]
    assert [m.get_content().splitlines()[1] for m in kept] == ["Thanks"] * 3
    assert [r["message_id"] for r in read_messages(tmp_path)] == [m["Message-ID"] for m in kept]


def test_a_closed_server_lets_go_of_its_mailbox_and_threads(tmp_path):
    """A test's server ends long before pytest does: its mbox, the descriptor it syncs with
    and its writer threads go with it."""
    def open_here() -> set[str]:
        return {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                if os.path.exists(f"/proc/self/fd/{fd}")}

    with serving(KeepingHandler(tmp_path, set())) as port:
        SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5).send(mail())
        assert str(tmp_path / MBOX) in open_here()
    assert not any(path.startswith(str(tmp_path)) for path in open_here())
    assert not [t for t in threading.enumerate() if t.name.startswith("devsmtp-keep")]
    [kept] = read_kept(tmp_path)  # and what it kept is whole
    assert message_from_bytes(kept, policy=policy.default)["Message-ID"] == (
        "<d1@grantflow.notifications>")


def test_a_message_that_could_not_be_kept_is_refused_for_now_not_for_good(server,
                                                                            monkeypatch):
    port, directory = server
    import mailbox
    monkeypatch.setattr(mailbox.mbox, "add", lambda self, content: (_ for _ in ()).throw(
        OSError(28, "No space left on device")))

    with pytest.raises(TransientMailError) as refused:
        SmtpMailer("127.0.0.1", port, "no-reply@grantflow.test", timeout=5).send(mail())
    assert "451" in str(refused.value) and "OSError" in str(refused.value)
    assert read_messages(directory) == []
