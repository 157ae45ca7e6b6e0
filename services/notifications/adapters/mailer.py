"""Sending mail over SMTP, with failures sorted into "try again later" and "never".

One connection per batch (:meth:`SmtpMailer.connection`): a batch of 50 messages costs
one TCP and SMTP handshake, not 50. A connection the server closed while idle is opened
again for the next message; a refused recipient resets the transaction and the batch goes
on. :class:`ServerState` follows whether the server answers, so an outage is logged once
when it starts and once when it ends, and ``/health`` can say so.
"""
from __future__ import annotations

import logging
import re
import smtplib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from eventlet import Timeout
from eventlet.event import Event
from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from services.notifications.adapters.message_text import (POLICY, build_standard, flatten,
                                                          wire_text)

_log = logging.getLogger(__name__)


class TransientMailError(Exception):
    """The server is unreachable or said 4xx: the same message may succeed later.

    ``unreachable`` is true when no SMTP conversation took place (refused, timed out,
    dropped): every other message would fail the same way right now. ``uncertain`` is
    true when the connection broke after the message text was handed over: the server may
    have accepted it, so sending it again may deliver it twice."""

    def __init__(self, message: str, unreachable: bool = False, uncertain: bool = False):
        super().__init__(message)
        self.unreachable = unreachable
        self.uncertain = uncertain


class PermanentMailError(Exception):
    """The server refused this message for good (5xx), e.g. an unknown recipient, or the
    message cannot be expressed for this server at all."""


@dataclass(frozen=True)
class OutgoingMail:
    recipient: str
    subject: str
    body: str
    message_id: str


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _wall_now() -> datetime:
    return datetime.now(timezone.utc)


class ServerState:
    """Whether the SMTP server answered at the last try, since when, and the last error.

    Shared by every batch of the process. A change of state is logged once (WARNING when
    the server stops answering, INFO when it answers again, with how many deferrals the
    outage cost); per-message deferrals are the caller's DEBUG lines."""

    def __init__(self, address: str):
        self.address = address
        self.up = True
        self.since: datetime | None = None  # None until the first conversation or failure
        self.last_error: str | None = None
        self.deferred_while_down = 0
        self._lock = threading.Lock()

    def answered(self) -> None:
        with self._lock:
            if self.up and self.since is not None:
                return
            was_down, deferred, started = not self.up, self.deferred_while_down, self.since
            self.up, self.since, self.deferred_while_down = True, _wall_now(), 0
        if was_down:
            _log.warning("SMTP server %s answers again after %s; %d deliveries were deferred "
                         "meanwhile and are being sent", self.address,
                         _duration(self.since - started), deferred)

    def unreachable(self, error: str) -> None:
        with self._lock:
            self.last_error = error
            if not self.up:
                return
            self.up, self.since = False, _wall_now()
        _log.warning("SMTP server %s does not answer (%s); deliveries wait for it and are "
                     "retried with backoff", self.address, error)

    def count_deferred(self, n: int) -> None:
        with self._lock:
            if not self.up:
                self.deferred_while_down += n

    def as_dict(self) -> dict:
        return {"state": "up" if self.up else "down",
                "since": self.since.isoformat() if self.since else None,
                "last_error": self.last_error}


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0,
                 lease_seconds: float = 30.0):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        # the From header parsed once (the address parser was a tenth of building each
        # message); the policy's own check refuses a sender with a line break here, at
        # start-up, rather than at every message
        try:
            _, self._from = POLICY.header_store_parse("From", sender)
        except ValueError as exc:
            raise ValueError(f"SMTP sender {sender!r} cannot be a From header: {exc}") from None
        #: how long a claimed delivery stays "sending" without a heartbeat before another
        #: sender may take it over; renewed while its batch runs (see handlers.delivery)
        self.lease = timedelta(seconds=lease_seconds)
        self.state = ServerState(f"{host}:{port}")
        #: set when the service stops: a running batch gives back what it has not tried
        self.stopping = threading.Event()
        self._wake_delivery = lambda: None  # the delivery timer's (:meth:`woken_by`)

    def woken_by(self, nudge) -> None:
        """``nudge()`` runs a delivery at once (the delivery timer's, when it starts)."""
        self._wake_delivery = nudge

    def wake(self) -> None:
        """Mail was queued: deliver now rather than at the next tick (a receipt need not
        wait half a second, nor a replay's settling for it)."""
        self._wake_delivery()

    def build(self, mail: OutgoingMail) -> bytes:
        """The text of ``mail`` as sent (:mod:`.message_text`). ValueError or TypeError
        for a header the email package refuses."""
        if self.sender.isascii() and mail.recipient.isascii():
            return wire_text(str(self._from), mail.recipient, mail.subject, mail.message_id,
                             mail.body)
        # an address that is not ASCII: SMTPUTF8, headers as raw UTF-8
        return flatten(build_standard(self._from, mail.recipient, mail.subject,
                                      mail.message_id, mail.body), utf8=True)

    def connection(self) -> "SmtpConnection":
        """One connection for a batch (``with mailer.connection() as smtp: smtp.send(m)``);
        opened at the first message."""
        return SmtpConnection(self)

    def send(self, mail: OutgoingMail) -> None:
        """One message on a connection of its own."""
        with self.connection() as smtp:
            smtp.send(mail)


class SmtpConnection:
    """An SMTP session reused for several messages.

    The envelope (MAIL, RCPT) and the text (DATA) are sent step by step rather than with
    ``smtplib.SMTP.send_message``, because the step at which a connection breaks decides
    what to do: before the text the server cannot have the message, so a connection it
    closed while idle is simply opened again; once the text went it may have it
    (``uncertain``).

    A server that offers PIPELINING (RFC 2920; Postfix, Exim and the dev server do) gets
    MAIL, RCPT and DATA in one write and answers the three together, so a message costs
    two round trips (the envelope, the text) instead of four; smtplib waits for each
    reply. Without it the commands go one at a time. Where the caller names the message
    it sends next (``send(mail, then=...)``), that message's envelope goes in the same
    write as this one's text (RFC 2920 lets a message's text open a group): a batch then
    costs one round trip a message. Its three replies are read when it is sent, where an
    envelope sent on its own would have been answered, so every outcome is what it was."""

    def __init__(self, mailer: SmtpMailer):
        self.mailer = mailer
        self.smtp: smtplib.SMTP | None = None
        # the message whose envelope went ahead with the previous text, its replies unread
        # (the server then waits for its text: nothing else may be written but that)
        self._announced: tuple[str, str] | None = None
        self._built: tuple[tuple[str, str], bytes] | None = None  # built with it

    def __enter__(self) -> "SmtpConnection":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.smtp is not None:
            if self._announced is not None:
                # the server may wait for a text: QUIT would be read as one. Without the
                # lone dot it keeps nothing of the message when the connection goes
                self.smtp.close()
            else:
                try:
                    self.smtp.quit()
                except (smtplib.SMTPException, OSError):
                    self.smtp.close()
            self.smtp = None
        self._announced = self._built = None

    def _open(self) -> smtplib.SMTP:
        mailer = self.mailer
        try:
            smtp = smtplib.SMTP(mailer.host, mailer.port, timeout=mailer.timeout)
            smtp.ehlo_or_helo_if_needed()
        except (smtplib.SMTPException, OSError) as exc:  # refused, timed out, reset
            error = f"{type(exc).__name__}: {exc}"
            mailer.state.unreachable(error)
            raise TransientMailError(error, unreachable=True) from None
        mailer.state.answered()
        return smtp

    def send(self, mail: OutgoingMail, then: OutgoingMail | None = None) -> None:
        """Send ``mail``; ``then``, if given, is the message the caller sends next on this
        connection (see the class docstring): send it next, or close the connection."""
        key = _key(mail)
        if self._announced is not None and self._announced != key:
            self.close()  # not the message announced: the server waits for another text
        message = self._message(mail)
        for fresh in (self.smtp is None, True):
            if self.smtp is None:
                self.smtp = self._open()
            try:
                waiting_for_text = self._envelope(mail.recipient)
                break
            except smtplib.SMTPServerDisconnected as exc:
                self.close()
                if fresh:  # not a connection closed while idle: the server is away
                    error = f"SMTPServerDisconnected: {exc}"
                    self.mailer.state.unreachable(error)
                    raise TransientMailError(error, unreachable=True) from None
        self._data(message, waiting_for_text, self._ahead(then) if waiting_for_text else None)

    def _message(self, mail: OutgoingMail) -> bytes:
        """The text of ``mail``, built here or when it was announced."""
        built, self._built = self._built, None
        if built is not None and built[0] == _key(mail):
            return built[1]
        try:
            return self.mailer.build(mail)
        except (ValueError, TypeError) as exc:  # e.g. a header the email package refuses
            raise PermanentMailError(f"message cannot be built: {exc}") from None

    def _ahead(self, then: OutgoingMail | None) -> tuple[tuple[str, str], bytes] | None:
        """The envelope of ``then`` to send with this text, or None where it must go on its
        own: a message that cannot be built, or whose envelope this server would refuse
        before reading it (an address with a line break, SMTPUTF8 it does not offer), is
        sent as before and fails there as before."""
        if then is None:
            return None
        try:
            message = self.mailer.build(then)
            commands = self._envelope_commands(then.recipient)
        except (ValueError, TypeError, PermanentMailError):
            return None
        self._built = (_key(then), message)
        return _key(then), commands

    def _envelope(self, recipient: str) -> bool:
        """MAIL and RCPT (and DATA too where the server pipelines: then True, the server
        waits for the text): a refusal resets the transaction, the connection stays
        usable. An envelope announced with the previous text has its replies read."""
        smtp = self.smtp
        if self._announced is not None:
            self._announced = None
        elif smtp.has_extn("pipelining"):
            smtp.send(self._envelope_commands(recipient))
        else:
            code, reply = smtp.mail(self.mailer.sender, self._options(recipient))
            if code != 250:
                self._reset()
                self._sender_refused(code, reply)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                self._reset()
                self._recipient_refused(recipient, code, reply)
            return False
        self._envelope_replies(recipient)
        return True

    def _is_international(self, recipient: str) -> bool:
        """An address of the envelope is not ASCII: it needs SMTPUTF8, and the text UTF-8."""
        return not (self.mailer.sender.isascii() and recipient.isascii())

    def _options(self, recipient: str) -> list[str]:
        """MAIL's options for this envelope; an address that is not ASCII needs SMTPUTF8
        of the server."""
        if not self._is_international(recipient):
            return []
        if not self.smtp.has_extn("smtputf8"):
            raise PermanentMailError("not supported by the server: an address needs SMTPUTF8")
        return ["SMTPUTF8", "BODY=8BITMIME"]

    def _envelope_commands(self, recipient: str) -> bytes:
        """MAIL, RCPT and DATA as one pipelined group."""
        sender = self.mailer.sender
        for address in (sender, recipient):
            if "\r" in address or "\n" in address:
                # smtplib's putcmd refuses these too: a line break would add a command
                raise PermanentMailError(f"an address with a line break cannot be sent: "
                                         f"{address!r}")
        options = self._options(recipient)
        # as smtplib's mail() and rcpt() word them; an SMTPUTF8 envelope is sent as UTF-8
        commands = (f"mail FROM:{smtplib.quoteaddr(sender)}{''.join(' ' + o for o in options)}"
                    f"\r\nrcpt TO:{smtplib.quoteaddr(recipient)}\r\ndata\r\n")
        return commands.encode("utf-8" if options else "ascii")

    def _envelope_replies(self, recipient: str) -> None:
        """The replies to a pipelined MAIL, RCPT and DATA, read in order. The first
        refusal is the one reported (a server answers 503 to what follows a refused MAIL,
        and refuses DATA when no recipient was accepted)."""
        smtp = self.smtp
        (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = (
            smtp.getreply(), smtp.getreply(), smtp.getreply())
        if (mail_code, rcpt_code, data_code) in ((250, 250, 354), (250, 251, 354)):
            return
        if data_code == 354:
            # the server waits for a text although it refused the envelope (RFC 2920 says
            # it must not): drop the session rather than hand it an empty message
            self.smtp.close()
            self.smtp = None
        else:
            self._reset()
        if mail_code != 250:
            self._sender_refused(mail_code, mail_reply)
        if rcpt_code not in (250, 251):
            self._recipient_refused(recipient, rcpt_code, rcpt_reply)
        self._refused(data_code, f"{data_code} {_text(data_reply)}")

    def _data(self, text: bytes, waiting_for_text: bool,
              ahead: tuple[tuple[str, str], bytes] | None = None) -> None:
        """The text; ``ahead``: the next message's key and envelope, written with it."""
        try:
            if waiting_for_text:
                code, reply = self._send_text(text, ahead)
            else:
                code, reply = self.smtp.data(text)
        except smtplib.SMTPDataError as exc:  # DATA itself refused: the text never went
            self._reset()
            self._refused(exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}")
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            raise TransientMailError(f"connection lost while sending the text: {exc}",
                                     uncertain=True) from None
        if code != 250:
            if self._announced is None:  # else the announced envelope is under way
                self._reset()
            self._refused(code, f"{code} {_text(reply)}")

    def _send_text(self, text: bytes,
                   ahead: tuple[tuple[str, str], bytes] | None = None) -> tuple[int, bytes]:
        """The text after the server's 354, as ``smtplib.SMTP.data`` sends it: a line
        that starts with a dot gets another (RFC 5321 4.5.2), then CRLF . CRLF; the next
        message's envelope after it, in the same write, where there is one."""
        stuffed = _LEADING_DOT.sub(b"..", text)
        if not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        if ahead is None:
            self.smtp.send(stuffed + b".\r\n")
        else:
            key, envelope = ahead
            self._announced = key  # before the write: a connection lost in it is closed bare
            self.smtp.send(stuffed + b".\r\n" + envelope)
        return self.smtp.getreply()

    def _reset(self) -> None:
        try:
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    @classmethod
    def _sender_refused(cls, code: int, reply) -> None:
        cls._refused(code, f"sender refused: {code} {_text(reply)}")

    @classmethod
    def _recipient_refused(cls, recipient: str, code: int, reply) -> None:
        cls._refused(code, f"recipient refused: {recipient}: {code} {_text(reply)}"
                     if code >= 500 else
                     f"recipient deferred: {recipient}: {code} {_text(reply)}")

    @staticmethod
    def _refused(code: int, text: str) -> None:
        if code >= 500:
            raise PermanentMailError(text)
        raise TransientMailError(text)


class MailerProvider(DependencyProvider):
    """Config key ``SMTP``: host, port, sender, timeout (seconds), lease_seconds (30)."""

    def setup(self):
        smtp = self.container.config.get("SMTP") or {}
        self.mailer = SmtpMailer(smtp.get("host", "127.0.0.1"), int(smtp.get("port", 1025)),
                                 smtp.get("sender", "no-reply@grantflow.example"),
                                 timeout=float(smtp.get("timeout", 10)),
                                 lease_seconds=float(smtp.get("lease_seconds", 30)))

    def wind_down(self):
        """The service is stopping: a running batch gives back what it has not tried."""
        self.mailer.stopping.set()

    def get_dependency(self, worker_ctx):
        return self.mailer


class DeliveryTimer(Timer):
    """The delivery timer. nameko stops entrypoints first and waits for their running
    workers before it stops any dependency, so a batch would finish all its messages
    before a provider heard of the shutdown: this timer tells the mailer first, and the
    running batch gives back the messages it has not tried."""

    def start(self):
        self._stopping = False
        self._nudged = Event()
        for dependency in self._mailers():
            dependency.mailer.woken_by(self.nudge)
        super().start()

    def nudge(self) -> None:
        """Run a delivery now (or as soon as the running one ends); nudges coalesce."""
        if not self._nudged.ready():
            self._nudged.send(True)

    def stop(self):
        for dependency in self._mailers():
            dependency.wind_down()
        self._stopping = True
        self.nudge()
        self.gt.wait()

    def _mailers(self):
        return [dependency for dependency in self.container.dependencies
                if isinstance(dependency, MailerProvider)]

    def _run(self):
        """nameko's loop (a tick every ``interval``, never two deliveries at once), woken
        early by :meth:`nudge`."""
        while not self._stopping:
            with Timeout(self.interval, exception=False):
                self._nudged.wait()
            if self._nudged.ready():
                self._nudged.reset()
            if self._stopping:
                break
            self.handle_timer_tick()
            self.worker_complete.wait()
            self.worker_complete.reset()


delivery_timer = DeliveryTimer.decorator


def _key(mail: OutgoingMail) -> tuple[str, str]:
    """What tells an announced message from another: its Message-ID and recipient."""
    return mail.message_id, mail.recipient
