"""Mail benchmark: how fast the notifications service queues and sends, one run.

Against real PostgreSQL (a throwaway database) and the dev SMTP server (grantflow.devsmtp
in its own process), with the service's own code (handlers.delivery) run in this process,
without nameko:

(a) queueing: N result-letter-sized notifications rendered and added to the delivery log
    in one transaction, as a milestone releases them: one INSERT per message (the old way,
    ``delivery_log.add``) against one batched statement (``handlers.delivery.queue``);
(b) sending: the N queued messages sent in batches of 50 (``dispatch_due``), the old way
    (a new SMTP connection and a transaction per message) against the new (one connection
    per batch, attempts recorded per group of ``handlers.delivery.GROUP`` messages). Each
    message's outcome is committed with its event and its attempt row either way.
(c) sending N more as the service does (``deliver_all_due``): ``--senders`` batches at
    once, each on its own SMTP and database connection;
(d) (c) again to a second dev server that does not offer PIPELINING (RFC 2920), so each
    message takes four round trips (MAIL, RCPT, DATA, the text) instead of one; run
    before (c), the ratio is (d)'s time over (c)'s, and the CPU per message of this
    process (the service's code) and of each SMTP server is given for both;
(e) (c) again with each message's envelope on its own (two round trips a message, as
    before the next envelope went with each text), run between (d) and (c);
(f) with ``--latency-ms L``: (e) and (c) again through ``bench.latency_proxy``, every
    chunk L ms late each way, as to a remote server (where round trips cost time, not
    only CPU).

Ratios are against the old way measured in the same run. The last line printed is one
JSON object.

    python bench/mail_delivery.py [--messages 2000] [--smtp-host 127.0.0.13] [--smtp-port 1113]
        [--senders 3] [--latency-ms 5]
    (the server without PIPELINING listens on the next port, the proxy on the one after)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.procstat import cpu_seconds  # noqa: E402

PG_URL = os.environ.get("GRANTFLOW_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
NOW = datetime(2019, 7, 1, 9, 0, tzinfo=timezone.utc)


class FixedClock:
    def now(self):
        return NOW


def notes(count: int, tag: str):
    """``count`` distinct messages of the size of a short letter."""
    from services.notifications.domain.notification import Notification

    return [Notification(recipient=f"applicant{n}@bench.example", role="applicant_contact",
                         template="evaluator_released", source_event_id=f"{tag}-{n}",
                         source_event_type="evaluator_released", call_id="AMIF-BENCH",
                         proposal_id=f"P-{n:05d}",
                         context={"call_id": "AMIF-BENCH", "proposal_id": f"P-{n:05d}",
                                  "topic_id": "AMIF-2018-AG-INTE-1",
                                  "reason": "the evaluation team reassigned the proposal " * 8,
                                  "recipient": f"applicant{n}@bench.example",
                                  "role": "applicant_contact"})
            for n in range(count)]


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--smtp-host", default="127.0.0.13")
    parser.add_argument("--smtp-port", type=int, default=1113)
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="also compare (e) and (c) through bench.latency_proxy, this "
                             "many ms each way (a remote server); 0: not run")
    args = parser.parse_args(argv)

    from sqlalchemy.orm import sessionmaker

    from services.notifications.adapters import delivery_log as log
    from services.notifications.adapters.mailer import SmtpConnection, SmtpMailer
    from services.notifications.adapters.settings import Settings
    from services.notifications.handlers import delivery
    from services.notifications.handlers.delivery import (deliver_all_due, dispatch_due, queue,
                                                             rendered, wall_now)
    from shared.db.engine import create_service_engine, drop_postgres_databases
    from shared.db.migrations import upgrade_to_head
    from shared.db.uow import UnitOfWork

    database = f"gf_mail_bench_{uuid.uuid4().hex[:8]}"
    engine = create_service_engine(f"{PG_URL}/{database}")
    mail_dir = tempfile.mkdtemp(prefix="gf-mail-bench-")
    plain_dir = tempfile.mkdtemp(prefix="gf-mail-bench-plain-")
    smtp = dev_smtp(args.smtp_host, args.smtp_port, mail_dir)
    plain_smtp = dev_smtp(args.smtp_host, args.smtp_port + 1, plain_dir, "--no-pipelining")
    try:
        upgrade_to_head(engine, "services.notifications:migrations")
        uow = UnitOfWork(sessionmaker(engine, expire_on_commit=False), "notifications")
        n = args.messages

        def queue_one_by_one():
            with uow:
                for note in notes(n, "one"):
                    subject, body, _ = rendered(note)
                    log.add(uow.session, note, subject, body, NOW, wall_now())
                uow.commit()

        def queue_in_bulk(tag="bulk"):
            with uow:
                queue(uow, notes(n, tag), NOW)
                uow.commit()

        print(f"queueing {n} messages, one INSERT each ...", flush=True)
        one_by_one = timed(queue_one_by_one)
        print(f"  {n / one_by_one:.0f}/s; in one batched statement ...", flush=True)
        bulk = timed(queue_in_bulk)
        print(f"  {n / bulk:.0f}/s", flush=True)

        time.sleep(1)  # the SMTP server is up by now
        settings = Settings()
        mailer = SmtpMailer(args.smtp_host, args.smtp_port, "no-reply@bench.example")

        class PerMessage(SmtpMailer):
            """The old way: a connection of its own for each message."""

            def connection(self):
                return _OwnConnectionEach(self)

        class _OwnConnectionEach:
            def __init__(self, parent):
                self.parent = parent

            def send(self, mail, then=None):  # a connection of its own: nothing ahead
                with SmtpConnection(self.parent) as smtp:
                    smtp.send(mail)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return None

        def send_all(sender) -> int:
            sent = 0
            while True:
                claimed = dispatch_due(uow, sender, FixedClock(), settings)
                if not claimed:
                    return sent
                sent += claimed

        # the "one" rows go with a connection per message, then the "bulk" rows per batch
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE deliveries SET next_attempt_at = now() + interval "
                                 "'1 day' WHERE source_event_id LIKE 'bulk-%%'")
        print(f"sending {n} with a connection and a transaction per message ...", flush=True)
        group, delivery.GROUP = delivery.GROUP, 1
        per_message = timed(lambda: send_all(PerMessage(args.smtp_host, args.smtp_port,
                                                        "no-reply@bench.example")))
        delivery.GROUP = group
        print(f"  {n / per_message:.0f}/s; with a connection per batch of "
              f"{settings.batch_size}, a transaction per {group} ...", flush=True)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE deliveries SET next_attempt_at = now() "
                                 "WHERE status = 'queued'")
        per_batch = timed(lambda: send_all(mailer))
        parallel_settings = Settings(senders=args.senders)

        def parallel_to(server, to_mailer, tag: str) -> tuple[float, float, float]:
            """(seconds, this process's CPU ms a message, the server's)."""
            queue_in_bulk(tag)
            ours, theirs = cpu_seconds(os.getpid()), cpu_seconds(server.pid)
            seconds = timed(lambda: deliver_all_due(uow, to_mailer, FixedClock(),
                                                    parallel_settings))
            return (seconds, round((cpu_seconds(os.getpid()) - ours) * 1000 / n, 3),
                    round((cpu_seconds(server.pid) - theirs) * 1000 / n, 3))

        print(f"  {n / per_batch:.0f}/s; {args.senders} senders at once, to a server "
              "without PIPELINING ...", flush=True)
        plain, plain_ours, plain_theirs = parallel_to(plain_smtp, SmtpMailer(
            args.smtp_host, args.smtp_port + 1, "no-reply@bench.example"), "plain")
        print(f"  {n / plain:.0f}/s; {args.senders} senders at once, pipelined, each "
              "envelope on its own ...", flush=True)
        apart, apart_ours, apart_theirs = parallel_to(smtp, envelope_with_its_text(
            args.smtp_host, args.smtp_port, "no-reply@bench.example"), "apart")
        print(f"  {n / apart:.0f}/s; {args.senders} senders at once, pipelined, the next "
              "envelope with each text ...", flush=True)
        parallel, piped_ours, piped_theirs = parallel_to(smtp, mailer, "parallel")
        print(f"  {n / parallel:.0f}/s", flush=True)
        far = {}
        if args.latency_ms:
            far = {"envelope_ahead_at_latency": {"latency_ms_each_way": args.latency_ms,
                                                 **at_latency(args, smtp, parallel_to)}}
        with engine.connect() as conn:
            unsent = conn.exec_driver_sql("SELECT count(*) FROM deliveries WHERE status "
                                          "<> 'sent'").scalar()
        from grantflow.devsmtp import read_messages
        received = len(read_messages(mail_dir)) + len(read_messages(plain_dir))
        expected = (7 if args.latency_ms else 5) * n
        result = {
            "messages": n, "load_1min": os.getloadavg()[0],
            "queue_per_s": {"one_insert_each": round(n / one_by_one), "bulk": round(n / bulk)},
            "queue_ratio": round(one_by_one / bulk, 2),
            "send_per_s": {"per_message": round(n / per_message),
                           "per_batch_and_group": round(n / per_batch),
                           f"{args.senders}_senders": round(n / parallel)},
            "send_ratio": round(per_message / per_batch, 2),
            "senders_ratio": round(per_batch / parallel, 2),
            "pipelining": versus(n, "one_command_at_a_time", (plain, plain_ours, plain_theirs),
                                 "pipelined", (parallel, piped_ours, piped_theirs)),
            "envelope_ahead": versus(n, "envelope_on_its_own", (apart, apart_ours, apart_theirs),
                                     "next_envelope_with_each_text",
                                     (parallel, piped_ours, piped_theirs)),
            **far,
            "unsent": unsent, "received": received, "expected_received": expected,
        }
    finally:
        for server in (smtp, plain_smtp):
            server.terminate()
            server.wait(10)
        engine.dispose()
        drop_postgres_databases(PG_URL, database)
        for directory in (mail_dir, plain_dir):
            shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps(result))
    return 0 if result["unsent"] == 0 and result["received"] == result["expected_received"] else 1


def envelope_with_its_text(host: str, port: int, sender: str):
    """A mailer that pipelines, but whose messages' envelopes each wait for their own
    text: two round trips a message, as before the next envelope went with each text."""
    from services.notifications.adapters.mailer import SmtpConnection, SmtpMailer

    class NothingAhead(SmtpConnection):
        def send(self, mail, then=None):
            super().send(mail)

    class Mailer(SmtpMailer):
        def connection(self):
            return NothingAhead(self)

    return Mailer(host, port, sender)


def at_latency(args, smtp, parallel_to) -> dict:
    """(e) against (c) through :mod:`bench.latency_proxy` (``--latency-ms`` each way)."""
    from services.notifications.adapters.mailer import SmtpMailer

    near, far_port = f"{args.smtp_host}:{args.smtp_port}", args.smtp_port + 2
    proxy = subprocess.Popen([sys.executable, "-m", "bench.latency_proxy", "--listen",
                              f"{args.smtp_host}:{far_port}", "--to", near,
                              "--delay-ms", str(args.latency_ms)], cwd=ROOT)
    try:
        time.sleep(1)  # listening by now
        print(f"  {args.latency_ms:g} ms each way, each envelope on its own ...", flush=True)
        apart = parallel_to(smtp, envelope_with_its_text(args.smtp_host, far_port,
                                                      "no-reply@bench.example"), "far-apart")
        print(f"  {args.messages / apart[0]:.0f}/s; the next envelope with each text ...",
              flush=True)
        ahead = parallel_to(smtp, SmtpMailer(args.smtp_host, far_port,
                                             "no-reply@bench.example"), "far-ahead")
        print(f"  {args.messages / ahead[0]:.0f}/s", flush=True)
    finally:
        proxy.terminate()
        proxy.wait(10)
    return versus(args.messages, "envelope_on_its_own", apart,
                  "next_envelope_with_each_text", ahead)


def versus(n: int, first_name: str, first: tuple, second_name: str, second: tuple) -> dict:
    """Two ways of sending ``n`` messages measured in the same run, each as (seconds, this
    process's CPU ms a message, the SMTP server's)."""
    return {f"{first_name}_per_s": round(n / first[0]),
            f"{second_name}_per_s": round(n / second[0]),
            "ratio": round(first[0] / second[0], 2),
            "client_cpu_ms_per_message": {first_name: first[1], second_name: second[1]},
            "server_cpu_ms_per_message": {first_name: first[2], second_name: second[2]}}


def dev_smtp(host: str, port: int, directory: str, *flags: str) -> subprocess.Popen:
    """The dev SMTP server (grantflow.devsmtp) keeping its mail in ``directory``."""
    return subprocess.Popen([sys.executable, "-m", "grantflow.devsmtp", "--host", host,
                             "--port", str(port), "--dir", directory, *flags],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
