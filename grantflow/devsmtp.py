"""A local SMTP server for development and tests (aiosmtpd): it accepts mail and keeps it.

Every message is appended to ``<dir>/messages.jsonl`` (one JSON object per line: time,
envelope, Message-ID, subject, text) and, whole, to the mbox ``<dir>/mail.mbox`` for a mail
client (one file appended to, so keeping mail costs the same however much there is).
Recipients in a ``--reject-domain`` are refused with ``550 5.1.1``, so the refused-address
path can be exercised for real. Docker Compose uses Mailpit instead.

    python -m grantflow.devsmtp --port 1025 --dir var/mail
"""
from __future__ import annotations

import argparse
import asyncio
import json
import mailbox
import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller

#: the kept messages, whole (``read_kept``), in the server's directory
MBOX = "mail.mbox"
#: one JSON summary per kept message (``read_messages``), in the server's directory
SUMMARIES = "messages.jsonl"


class KeepingHandler:
    """Keeps each accepted message before answering 250 (a test that kills this server
    right after a 250 still finds the message), on a thread beside the event loop, so one
    connection's disk write does not hold up the others' commands.

    Each message is appended to one mbox and synced (the durability an MTA owes before
    its 250). A Maildir (a file per message: create, sync, link, unlink) cost about 1 ms
    of kernel time per message on this project's 2-core machine, as much as the rest of
    this server's work, where the benchmarks run it beside the services (a call of
    10,000 proposals sends some 170,000 messages); an append and its sync cost about a
    third of that (figures in DEVELOPERS.md). The append is made under a lock
    (``mailbox.mbox`` is not thread-safe), the sync outside it, on ``writers`` threads:
    a sync waits for the file system's journal, which PostgreSQL beside it also commits
    to, and syncs made together share one commit instead of queueing one by one. The log
    of summaries stays open, appended to and flushed after each message's sync (it was
    opened and closed for each message: two system calls and a file object a message)."""

    def __init__(self, directory: Path, reject_domains: set[str], writers: int = 4,
                 pipelining: bool = True):
        self.reject_domains = {d.lower() for d in reject_domains}
        self.pipelining = pipelining
        directory.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.mbox = mailbox.mbox(str(directory / MBOX), create=True)
        # a sync is of the file, whichever descriptor asks: this one needs no lock
        self.sync_fd = os.open(directory / MBOX, os.O_RDONLY)
        self.summaries = open(directory / SUMMARIES, "a", encoding="utf-8")
        self.writer = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="devsmtp-keep")

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        """Offers PIPELINING (RFC 2920), as Postfix and Exim do: aiosmtpd reads each command
        from its buffer and answers in order, so commands sent together are answered
        together; it just does not say so. (This hook must name the client's host.)"""
        session.host_name = hostname
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.rsplit("@", 1)[-1].lower() in self.reject_domains:
            return "550 5.1.1 mailbox unavailable: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        record = {"received_at": datetime.now(timezone.utc).isoformat(),
                  "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                  **summary(envelope.content)}
        try:
            await asyncio.get_running_loop().run_in_executor(
                self.writer, self.keep, envelope.content, record)
        except (OSError, mailbox.Error) as exc:
            # not kept: a transient answer, so the client tries again (aiosmtpd would
            # answer a permanent 500 for an exception, and the message would be lost)
            return f"451 4.3.0 could not keep the message ({type(exc).__name__}); try again"
        return "250 OK: kept"

    def keep(self, content: bytes, record: dict) -> None:
        with self.lock:
            # with this system's line ending, as an MTA's local delivery stores it
            self.mbox.add(content.replace(b"\r\n", b"\n"))
        os.fsync(self.sync_fd)  # kept before the 250
        with self.lock:
            self.summaries.write(json.dumps(record) + "\n")
            self.summaries.flush()

    def close(self) -> None:
        """Let the writers finish what they were given, then close the mbox and the
        descriptor synced with (a test's server ends long before its process does)."""
        self.writer.shutdown(wait=True)
        with self.lock:
            self.mbox.close()
            self.summaries.close()
        os.close(self.sync_fd)


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def summary(content: bytes) -> dict:
    """Message-ID, Subject, To and the plain text of a message.

    A single-part message with ASCII headers (every message the notifications service
    sends, non-ASCII subjects being RFC 2047 encoded words) is read with the email
    package's compat32 policy, several times faster than its header registry, which was
    most of this server's time per message and capped a replay's mail at about 100
    messages a second. Anything else (multipart, raw UTF-8 headers) takes the full parse."""
    head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    if head.isascii():
        message = BytesParser(policy=policy.compat32).parsebytes(content)
        if not message.is_multipart():
            payload = message.get_payload(decode=True) or b""
            return {"message_id": _header(message, "Message-ID"),
                    "subject": _header(message, "Subject"), "to": _header(message, "To"),
                    "text": payload.decode(message.get_content_charset() or "ascii",
                                           errors="replace")}
    message = message_from_bytes(content, policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    return {"message_id": message["Message-ID"], "subject": message["Subject"],
            "to": message["To"], "text": body.get_content() if body else ""}


def _header(message, name: str) -> str | None:
    raw = message.get(name)
    if raw is None:
        return None
    return str(make_header(decode_header(_FOLD.sub("", str(raw)))))


def read_messages(directory: str | Path) -> list[dict]:
    path = Path(directory) / SUMMARIES
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def read_kept(directory: str | Path) -> list[bytes]:
    """Every kept message whole, in the mbox's order (appended as kept: the order of the
    250s on one connection, of the writers' turns between connections)."""
    path = Path(directory) / MBOX
    if not path.exists():
        return []
    box = mailbox.mbox(str(path), create=False)
    try:
        return [box.get_bytes(key) for key in box.iterkeys()]
    finally:
        box.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="local SMTP server that keeps every message")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", default="var/mail")
    parser.add_argument("--reject-domain", action="append", default=[])
    parser.add_argument("--no-pipelining", action="store_true",
                        help="do not offer PIPELINING: clients send one command at a time")
    args = parser.parse_args(argv)
    handler = KeepingHandler(Path(args.dir), set(args.reject_domain),
                             pipelining=not args.no_pipelining)
    controller = Controller(handler, hostname=args.host, port=args.port)
    controller.start()
    print(f"devsmtp listening on {args.host}:{args.port}, keeping mail in {args.dir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        time.sleep(0.2)
    controller.stop()
    handler.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
