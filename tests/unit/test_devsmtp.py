"""The dev SMTP server's quick reading of a message gives what the full parse gives."""
from email import message_from_bytes, policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from io import BytesIO

import pytest

from grantflow.devsmtp import summary
from services.notifications.adapters.mailer import OutgoingMail, SmtpMailer


def full_parse(content: bytes) -> dict:
    message = message_from_bytes(content, policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    return {"message_id": message["Message-ID"], "subject": message["Subject"],
            "to": message["To"], "text": body.get_content() if body else ""}


def wire(message: EmailMessage) -> bytes:
    buffer = BytesIO()
    BytesGenerator(buffer, policy=message.policy).flatten(message, linesep="\r\n")
    return buffer.getvalue()


MAILER = SmtpMailer("127.0.0.1", 25, "no-reply@grantflow.test")
CASES = {
    "ascii": ("anna@comune.example.it", "[AMIF] Receipt for CITY", "Dear Anna,\n\nThanks.\n"),
    "accented subject and body": ("anna@comune.example.it", "[AMIF] Receipt for CITTÀ",
                                  "Grüße aus Köln\n"),
    "long folded subject": ("b@x.example", "[AMIF-2018-AG-INTE] " + "word " * 40, "x\n"),
    "long accented subject": ("b@x.example", "Évaluation terminée " * 8, "é\n" * 3),
    "long body lines": ("b@x.example", "lines", ("ž" * 200 + "\n") * 5),
    "empty body": ("b@x.example", "nothing", ""),
    "from line, equals signs, trailing spaces": ("b@x.example", "a = b", "From here \n=3D\n"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_quick_reading_matches_the_full_parse(case):
    to, subject, body = CASES[case]
    content = MAILER.build(OutgoingMail(to, subject, body, "<m1@grantflow.test>"))
    assert summary(content) == full_parse(content)
    assert summary(content)["subject"].split() == subject.split()


def test_raw_utf8_headers_and_multipart_take_the_full_parse():
    content = MAILER.build(OutgoingMail("zoë@bücher.example", "Grüße", "hallo\n",
                                        "<m2@grantflow.test>"))
    assert summary(content) == full_parse(content)
    assert summary(content)["to"] == "zoë@bücher.example"

    multipart = EmailMessage()
    multipart["Subject"], multipart["To"], multipart["Message-ID"] = "both", "a@b.c", "<m3@x>"
    multipart.set_content("plain words\n")
    multipart.add_alternative("<p>html words</p>", subtype="html")
    content = wire(multipart)
    assert summary(content) == full_parse(content)
    assert summary(content)["text"].splitlines() == ["plain words"]
