"""A local SMTP server for development and tests (aiosmtpd): it accepts mail and keeps it.

Every message is appended to ``<dir>/messages.jsonl`` (one JSON object per line: time,
envelope, Message-ID, subject, text) and stored in the Maildir ``<dir>/maildir`` for a mail
client (one file per message, so keeping mail costs the same however much there is).
Recipients in a ``--reject-domain`` are refused with ``550 5.1.1``, so the refused-address
path can be exercised for real. Docker Compose uses Mailpit instead.

    python -m grantflow.devsmtp --port 1025 --dir var/mail
"""
from __future__ import annotations

import argparse
import json
import mailbox
import signal
import threading
import time
from datetime import datetime, timezone
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller


class KeepingHandler:
    def __init__(self, directory: Path, reject_domains: set[str]):
        self.directory = directory
        self.reject_domains = {d.lower() for d in reject_domains}
        self.lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(str(directory / "maildir"), create=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.rsplit("@", 1)[-1].lower() in self.reject_domains:
            return "550 5.1.1 mailbox unavailable: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {"received_at": datetime.now(timezone.utc).isoformat(),
                  "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                  "message_id": message["Message-ID"], "subject": message["Subject"],
                  "to": message["To"], "text": body.get_content() if body else ""}
        with self.lock:
            self.maildir.add(envelope.content)
            with open(self.directory / "messages.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        return "250 OK: kept"


def read_messages(directory: str | Path) -> list[dict]:
    path = Path(directory) / "messages.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="local SMTP server that keeps every message")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", default="var/mail")
    parser.add_argument("--reject-domain", action="append", default=[])
    args = parser.parse_args(argv)
    controller = Controller(KeepingHandler(Path(args.dir), set(args.reject_domain)),
                            hostname=args.host, port=args.port)
    controller.start()
    print(f"devsmtp listening on {args.host}:{args.port}, keeping mail in {args.dir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        time.sleep(0.2)
    controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
