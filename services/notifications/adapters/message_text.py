"""The text of an outgoing message as it goes over SMTP: headers, a blank line, the body,
CRLF line ends.

Two builders give a reader the same message (From, To, Subject, Message-ID and the body
text, as the standard library's default policy reads them back):

- :func:`build_standard`: the email package's ``EmailMessage`` under its default policy
  (RFC 5322 headers, RFC 2047 words for what is not ASCII). Needed for an envelope that is
  not ASCII (SMTPUTF8: headers go as raw UTF-8, which only that policy writes).
- :func:`wire_text` for every other message (nearly all): the same headers and a
  quoted-printable UTF-8 body written with the ``compat32`` policy's classes. Building and
  flattening under the default policy took 0.36-0.42 ms a message (its header registry
  parses every header it is given), this takes 0.17-0.19 ms; the notifications service
  builds one per recipient (17 messages a proposal in a synthetic call), and building
  and flattening were a fifth of its busy samples in a profile of a 2,000-proposal call.
  ``compat32`` checks nothing in a header value, so the line break test the default
  policy makes (what stops a subject from adding a ``Bcc:`` line) is made here.
"""
from __future__ import annotations

from email import policy as email_policy
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.mime.text import MIMEText
from io import BytesIO


class _HeaderClasses(HeaderRegistry):
    """The email package's header registry, making each header name's class once.

    ``HeaderRegistry`` makes a new class (``type(...)``) for every header it parses, seven
    per message: that was 40 % of building one (1.16 -> 0.66 ms a message measured). The
    class depends on the name alone, and the names are the few this module sets."""

    def __init__(self):
        super().__init__()
        self._made: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


#: the standard library's default policy (RFC 5322 headers, RFC 2047 words for what is
#: not ASCII), with the header classes made once; the text is flattened with CRLF
POLICY = email_policy.default.clone(header_factory=_HeaderClasses())

#: the body's charset for :func:`wire_text`: UTF-8, quoted-printable (mostly ASCII text
#: stays readable; the default policy picks it for such text too)
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP

#: compat32 writing CRLF, lines folded at 78 characters as RFC 5322 asks (``as_bytes``
#: writes a body line that starts with "From " as it is, without mbox's ">")
_WIRE = email_policy.compat32.clone(linesep="\r\n")


def build_standard(sender_header, recipient: str, subject: str, message_id: str,
                   body: str) -> EmailMessage:
    """The message under the default policy; ``sender_header``: the From header as
    ``POLICY.header_store_parse`` made it. ValueError for a header it refuses."""
    message = EmailMessage(policy=POLICY)
    message["From"] = sender_header
    message["To"] = recipient
    message["Subject"] = subject
    # the same Message-ID on every attempt: a copy sent again after a crash is
    # recognisably the same message to the recipient's mail system
    message["Message-ID"] = message_id
    message.set_content(body)
    return message


def flatten(message: EmailMessage, utf8: bool = False) -> bytes:
    """A default-policy message as sent; ``utf8``: headers as raw UTF-8 (SMTPUTF8)."""
    buffer = BytesIO()
    policy = message.policy.clone(utf8=True) if utf8 else message.policy
    BytesGenerator(buffer, policy=policy).flatten(message, linesep="\r\n")
    return buffer.getvalue()


def wire_text(sender: str, recipient: str, subject: str, message_id: str,
              body: str) -> bytes:
    """The message as sent, for an ASCII ``sender`` (the From header, as the default
    policy writes it) and ``recipient``. ValueError for a header value with a line break,
    as the default policy raises."""
    if not (sender.isascii() and recipient.isascii()):
        raise ValueError("an address that is not ASCII needs the standard message")
    for name, value in (("To", recipient), ("Subject", subject), ("Message-ID", message_id)):
        if "\r" in value or "\n" in value:
            raise ValueError(f"header values may not contain linefeed or carriage return "
                             f"characters ({name})")
    # one line end after each line, as the default policy's set_content writes the text
    text = "".join(line.decode("utf-8") + "\n" for line in body.encode("utf-8").splitlines())
    message = MIMEText(text or "\n", "plain", _UTF8_QP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = (subject if subject.isascii()
                          else Header(subject, "utf-8", header_name="Subject"))
    message["Message-ID"] = message_id
    return message.as_bytes(policy=_WIRE)
