"""Sending mail over SMTP, with failures sorted into "try again later" and "never"."""
from __future__ import annotations

import smtplib
from datetime import timedelta
from dataclasses import dataclass
from email.message import EmailMessage

from nameko.extensions import DependencyProvider


class TransientMailError(Exception):
    """The server is unreachable or said 4xx: the same message may succeed later."""


class PermanentMailError(Exception):
    """The server refused this message for good (5xx), e.g. an unknown recipient."""


@dataclass(frozen=True)
class OutgoingMail:
    recipient: str
    subject: str
    body: str
    message_id: str


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0,
                 lease_seconds: float = 120.0):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        #: how long a delivery may stay "sending" before it counts as interrupted
        self.lease = timedelta(seconds=lease_seconds)

    def send(self, mail: OutgoingMail) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.recipient
        message["Subject"] = mail.subject
        # the same Message-ID on every attempt: a resend after a crash is recognisably the
        # same message to the recipient's mail system
        message["Message-ID"] = mail.message_id
        message.set_content(mail.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                               for addr, (code, msg) in exc.recipients.items())
            if all(code >= 500 for code in codes):
                raise PermanentMailError(f"recipient refused: {detail}") from None
            raise TransientMailError(f"recipient deferred: {detail}") from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) \
                else str(exc.smtp_error)
            if exc.smtp_code >= 500:
                raise PermanentMailError(f"{exc.smtp_code} {text}") from None
            raise TransientMailError(f"{exc.smtp_code} {text}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientMailError(f"{type(exc).__name__}: {exc}") from None


class MailerProvider(DependencyProvider):
    """Config key ``SMTP``: host, port, sender."""

    def setup(self):
        smtp = self.container.config.get("SMTP") or {}
        self.mailer = SmtpMailer(smtp.get("host", "127.0.0.1"), int(smtp.get("port", 1025)),
                                 smtp.get("sender", "no-reply@grantflow.example"),
                                 lease_seconds=float(smtp.get("lease_seconds", 120)))

    def get_dependency(self, worker_ctx):
        return self.mailer
