"""Sending mail over SMTP, with failures sorted into "try again later" and "never"."""
from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from nameko.extensions import DependencyProvider


class TransientMailError(Exception):
    """The server is unreachable or said 4xx: the same message may succeed later.

    ``unreachable`` is true when no SMTP conversation took place (refused, timed out,
    dropped): every other message would fail the same way right now."""

    def __init__(self, message: str, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable


class PermanentMailError(Exception):
    """The server refused this message for good (5xx), e.g. an unknown recipient, or the
    message cannot be expressed for this server at all."""


@dataclass(frozen=True)
class OutgoingMail:
    recipient: str
    subject: str
    body: str
    message_id: str


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0,
                 lease_seconds: float = 120.0):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        #: how long a delivery may stay "sending" before it counts as interrupted; a batch
        #: stops taking new messages after half of it (see handlers.delivery)
        self.lease = timedelta(seconds=lease_seconds)

    def build(self, mail: OutgoingMail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.recipient
        message["Subject"] = mail.subject
        # the same Message-ID on every attempt: a copy sent again after a crash is
        # recognisably the same message to the recipient's mail system
        message["Message-ID"] = mail.message_id
        message.set_content(mail.body)
        return message

    def send(self, mail: OutgoingMail) -> None:
        try:
            message = self.build(mail)
        except (ValueError, TypeError) as exc:  # e.g. a header the email package refuses
            raise PermanentMailError(f"message cannot be built: {exc}") from None
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{addr}: {code} {_text(msg)}"
                               for addr, (code, msg) in exc.recipients.items())
            if all(code >= 500 for code in codes):
                raise PermanentMailError(f"recipient refused: {detail}") from None
            raise TransientMailError(f"recipient deferred: {detail}") from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if exc.smtp_code >= 500:
                raise PermanentMailError(text) from None
            raise TransientMailError(text) from None
        except smtplib.SMTPNotSupportedError as exc:  # e.g. an address needing SMTPUTF8
            raise PermanentMailError(f"not supported by the server: {exc}") from None
        except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected) as exc:
            raise TransientMailError(f"{type(exc).__name__}: {exc}", unreachable=True) from None
        except smtplib.SMTPException as exc:  # (a subclass of OSError: caught first)
            raise TransientMailError(f"{type(exc).__name__}: {exc}") from None
        except OSError as exc:  # refused, timed out, reset: no conversation took place
            raise TransientMailError(f"{type(exc).__name__}: {exc}", unreachable=True) from None


class MailerProvider(DependencyProvider):
    """Config key ``SMTP``: host, port, sender, timeout (seconds), lease_seconds."""

    def setup(self):
        smtp = self.container.config.get("SMTP") or {}
        self.mailer = SmtpMailer(smtp.get("host", "127.0.0.1"), int(smtp.get("port", 1025)),
                                 smtp.get("sender", "no-reply@grantflow.example"),
                                 timeout=float(smtp.get("timeout", 10)),
                                 lease_seconds=float(smtp.get("lease_seconds", 120)))

    def get_dependency(self, worker_ctx):
        return self.mailer
