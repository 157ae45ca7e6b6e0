"""Pipeline benchmark: Grantflow's end-to-end event rate against the raw broker, one run.

(a) raw broker: a py-amqp publisher sends persistent messages on a confirm-mode channel,
    awaiting confirms once per window of 500, while a consumer process with prefetch 1000
    acks them (cumulatively, every 100): the fastest durable way this broker moves them.
(b) Grantflow: a producer process (run like a service, under eventlet) commits state
    changes with their events through the unit of work from concurrent green threads, the
    outbox relay publishes them in confirmed batches, and a consumer service receives them
    through the real ``@subscribe`` entrypoint and ``UnitOfWork.consume``: processed-event
    claim, effect and commit in one transaction (bench/sink: the smallest effect, so this
    measures the plumbing, not one service's business logic). Three variants:
    ``commands`` (one event per transaction, one transaction per event on the consumer:
    the headline), ``commands-batched-consumer`` (the consumer applies up to 100 events
    per transaction) and ``bulk`` (50 events per producer transaction, as when a topic
    closes and its proposals are screened).

Same payload everywhere (a real ``proposal_submitted`` event, ~600 bytes), a fresh vhost
and fresh PostgreSQL databases. The last line printed is one JSON object.

    python bench/pipeline.py [--events 10000] [--producers 16] [--workers 64] [--only V]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.procstat import cpu_seconds  # noqa: E402
from shared.db.engine import normalise_url  # noqa: E402


def sample_payload(index: int = 0) -> dict:
    from datetime import datetime, timezone

    from shared.events import ProposalSubmitted, dump
    now = datetime.now(timezone.utc)
    return dump(ProposalSubmitted(
        call_id="AMIF-2018-AG-INTE", correlation_id=f"P-{index:08d}", occurred_at=now,
        proposal_id=f"P-{index:08d}", topic_id="AMIF-2018-AG-INTE-1", version=1,
        content_hash="9f2c" * 16, received_at=now, acronym="CITYNET",
        title="Cities learning integration from each other across the Union",
        applicant_name="Ville de Lyon", contact_emails=["coordinator@lyon.example.eu",
                                                        "partner@graz.example.at"]))


# --------------------------------------------------------------------------- raw broker
def raw_consumer(amqp_uri: str, queue: str, count: int, ready_file: str) -> None:
    import amqp

    from shared.messaging.broker import connection_params
    conn = amqp.Connection(**connection_params(amqp_uri))
    conn.connect()
    channel = conn.channel()
    channel.basic_qos(0, 1000, False)
    received = 0
    first = last = None

    def on_message(message):
        nonlocal received, first, last
        received += 1
        last = time.time()
        first = first or last
        if received % 100 == 0 or received == count:
            channel.basic_ack(message.delivery_tag, multiple=True)

    channel.basic_consume(queue, callback=on_message)
    Path(ready_file).write_text("ready")
    while received < count:
        conn.drain_events(timeout=60)
    print(json.dumps({"received": received, "last": last}), flush=True)
    conn.close()


def raw_publisher(amqp_uri: str, queue: str, count: int, window: int = 500) -> None:
    import amqp

    from shared.messaging.broker import connection_params
    body = json.dumps(sample_payload())
    conn = amqp.Connection(**connection_params(amqp_uri))
    conn.connect()
    channel = conn.channel()
    channel.confirm_select()
    confirmed = 0

    def on_ack(tag, multiple):
        nonlocal confirmed
        confirmed = max(confirmed, tag) if multiple else confirmed + 1

    channel.events["basic_ack"].add(on_ack)
    start = time.time()
    sent = 0
    while sent < count:
        batch = min(window, count - sent)
        for _ in range(batch):
            channel.basic_publish(amqp.Message(body, content_type="application/json",
                                               delivery_mode=2), exchange="", routing_key=queue)
        sent += batch
        while confirmed < sent:
            conn.drain_events(timeout=30)
    print(json.dumps({"start": start, "published": sent}), flush=True)
    conn.close()


def measure_raw(amqp_uri: str, count: int) -> dict:
    import amqp

    from shared.messaging.broker import connection_params
    queue = "bench.raw"
    conn = amqp.Connection(**connection_params(amqp_uri))
    conn.connect()
    conn.channel().queue_declare(queue, durable=True, auto_delete=False)
    conn.close()
    with tempfile.TemporaryDirectory() as tmp:
        ready = os.path.join(tmp, "ready")
        consumer = subprocess.Popen([sys.executable, __file__, "--role", "raw-consumer",
                                     "--amqp-uri", amqp_uri, "--events", str(count),
                                     "--ready-file", ready], stdout=subprocess.PIPE, text=True)
        while not os.path.exists(ready):
            time.sleep(0.05)
        publisher = subprocess.run([sys.executable, __file__, "--role", "raw-publisher",
                                    "--amqp-uri", amqp_uri, "--events", str(count)],
                                   capture_output=True, text=True, check=True)
        out, _ = consumer.communicate(timeout=300)
    start = json.loads(publisher.stdout.strip().splitlines()[-1])["start"]
    last = json.loads(out.strip().splitlines()[-1])["last"]
    return {"messages": count, "seconds": last - start, "msgs_per_s": count / (last - start)}


# --------------------------------------------------------------------------- grantflow
def grantflow_producer(amqp_uri: str, db_url: str, count: int, producers: int,
                       per_transaction: int = 1) -> None:
    """Runs under eventlet like a service: unit of work + outbox + relay."""
    import eventlet
    eventlet.monkey_patch()
    import sqlalchemy as sa

    from shared.db.engine import create_service_engine
    from shared.db.session import session_factory
    from shared.db.types import UtcDateTime
    from shared.db.uow import UnitOfWork
    from shared.events import ProposalSubmitted
    from shared.messaging.relay import OutboxRelay
    from shared.messaging.tables import metadata as messaging

    from datetime import datetime, timezone

    engine = create_service_engine(db_url, pool_size=producers, max_overflow=4)
    state = sa.MetaData()
    versions = sa.Table("bench_versions", state,
                        sa.Column("proposal_id", sa.String(40), primary_key=True),
                        sa.Column("received_at", UtcDateTime(), nullable=False))
    messaging.create_all(engine)
    state.create_all(engine)
    relay = OutboxRelay(engine, amqp_uri, "submission", batch_size=500, poll_interval=0.2)
    sessions = session_factory(engine)
    insert_version = versions.insert()
    relay_thread = eventlet.spawn(relay.run_forever)

    def produce(indexes):
        indexes = list(indexes)
        for start in range(0, len(indexes), per_transaction):
            uow = UnitOfWork(sessions, "submission", on_commit=relay.wake)
            now = datetime.now(timezone.utc)
            with uow:
                for index in indexes[start:start + per_transaction]:
                    uow.session.execute(insert_version, {"proposal_id": f"P-{index:08d}",
                                                         "received_at": now})
                    uow.add_events(ProposalSubmitted(
                        call_id="AMIF-2018-AG-INTE", correlation_id=f"P-{index:08d}",
                        occurred_at=now, proposal_id=f"P-{index:08d}",
                        topic_id="AMIF-2018-AG-INTE-1", version=1, content_hash="9f2c" * 16,
                        received_at=now, acronym="CITYNET",
                        title="Cities learning integration from each other across the Union",
                        applicant_name="Ville de Lyon",
                        contact_emails=["coordinator@lyon.example.eu",
                                        "partner@graz.example.at"]))
                uow.commit()

    start = time.time()
    pool = eventlet.GreenPool(producers)
    for worker in range(producers):
        pool.spawn(produce, range(worker, count, producers))
    pool.waitall()
    committed = time.time()
    while relay.backlog()[0]:
        relay.wake()
        eventlet.sleep(0.05)
    published = time.time()
    relay.stop()
    relay_thread.kill()
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"start": start, "committed": committed, "published": published,
                      "cpu_s": usage.ru_utime + usage.ru_stime}), flush=True)


# (label, consumer, events per producer transaction); the first is the headline figure:
# one event per command and the default (unbatched) consumer, as the services run today
VARIANTS = [
    ("commands", "sink", 1),
    ("commands-batched-consumer", "sink-batched", 1),
    ("bulk", "sink-batched", 50),  # like closing a topic: many events in one transaction
]

CONSUMERS = {
    # name: (service class, table its effect lands in)
    "sink": ("bench.sink.service:BenchSink", "received"),
    "sink-batched": ("bench.sink.service:BatchedBenchSink", "received"),
}


def measure_grantflow(amqp_uri: str, databases, count: int, producers: int, workers: int,
                      run_dir: Path, consumer_kind: str = "sink", per_transaction: int = 1,
                      label: str = "") -> dict:
    import importlib

    import sqlalchemy as sa
    from kombu import Connection

    from grantflow.processes import ServiceProcess
    from grantflow.topology import subscriptions
    from shared.config import service_config
    from shared.messaging import topology as t
    from tests.support.infra import free_port

    class_path, table = CONSUMERS[consumer_kind]
    module, _, name = class_path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    with Connection(amqp_uri) as conn:  # the consumer's queues exist before anything is sent
        t.declare(conn.default_channel, [t.consumer_queue(p, e, cls.name, m)
                                         for p, e, m in subscriptions(cls)])
    database = databases.url(label or consumer_kind.replace('-', '_'))
    config = service_config(
        "operations", ENV="development", AMQP_URI=amqp_uri,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
        DATABASE_URL=database, VAR_DIR=str(run_dir), CLOCK="wall",
        max_workers=workers, PREFETCH_COUNT=max(workers, 200),
        DB_POOL={"size": 10, "max_overflow": 10})
    config["LOGGING"]["root"]["level"] = "WARNING"
    consumer = ServiceProcess("operations", config, run_dir, service_class=class_path).start()
    try:
        consumer.wait_healthy()
        consumer_cpu_before = cpu_seconds(consumer.pid())
        producer = subprocess.run(
            [sys.executable, __file__, "--role", "grantflow-producer", "--amqp-uri", amqp_uri,
             "--db-url", databases.url(f"producer_{label or consumer_kind.replace('-', '_')}"),
             "--events", str(count), "--per-transaction", str(per_transaction),
             "--producers", str(producers)], capture_output=True, text=True)
        if producer.returncode:
            raise RuntimeError(producer.stderr[-3000:])
        times = json.loads(producer.stdout.strip().splitlines()[-1])
        engine = sa.create_engine(normalise_url(database), poolclass=sa.pool.NullPool)
        done_count = 0
        deadline = time.time() + 600
        while time.time() < deadline:
            with engine.connect() as conn:
                done_count = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
            if done_count >= count:
                break
            time.sleep(0.05)
        consumer_cpu = cpu_seconds(consumer.pid()) - consumer_cpu_before
        with engine.connect() as conn:
            last, = conn.execute(sa.text(f"SELECT extract(epoch from max(recorded_at)) FROM {table}")).one()
            lat = [row[0] for row in conn.execute(sa.text(
                f"SELECT extract(epoch from recorded_at - occurred_at) FROM {table}"))]
            duplicates = conn.execute(sa.text(
                f"SELECT count(*) - count(DISTINCT event_id) FROM {table}")).scalar()
        engine.dispose()
    finally:
        consumer.stop()
    seconds = float(last) - times["start"]
    lat = sorted(float(x) for x in lat)
    return {"events": count, "consumed": done_count, "duplicates": duplicates,
            "seconds": seconds, "events_per_s": count / seconds,
            "producer_commits_per_s": count / (times["committed"] - times["start"]),
            "relay_published_after_s": times["published"] - times["start"],
            "latency_p50_ms": 1000 * lat[len(lat) // 2],
            "latency_p99_ms": 1000 * lat[int(len(lat) * 0.99) - 1],
            "producer_cpu_ms_per_event": 1000 * times["cpu_s"] / count,
            "consumer_cpu_ms_per_event": 1000 * consumer_cpu / count}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--producers", type=int, default=16)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--only", choices=[label for label, _, _ in VARIANTS],
                        help="measure one variant only")
    parser.add_argument("--per-transaction", type=int, default=1,
                        help="events each producer transaction writes (1: one command each)")
    parser.add_argument("--role", default="main")
    parser.add_argument("--amqp-uri")
    parser.add_argument("--db-url")
    parser.add_argument("--ready-file")
    args = parser.parse_args()
    if args.role == "raw-consumer":
        raw_consumer(args.amqp_uri, "bench.raw", args.events, args.ready_file)
        return 0
    if args.role == "raw-publisher":
        raw_publisher(args.amqp_uri, "bench.raw", args.events)
        return 0
    if args.role == "grantflow-producer":
        grantflow_producer(args.amqp_uri, args.db_url, args.events, args.producers,
                           args.per_transaction)
        return 0

    from tests.support.infra import Databases, Vhost
    import resource
    vhost, databases = Vhost().create(), Databases()
    variants = {}
    try:
        print(f"raw broker: {args.events} persistent messages, confirms per 500 ...", flush=True)
        raw = measure_raw(vhost.amqp_uri, args.events)
        print(f"  {raw['msgs_per_s']:.0f} msg/s", flush=True)
        for label, consumer, per_tx in VARIANTS:
            if args.only and label != args.only:
                continue
            print(f"grantflow [{label}]: {args.events} events, {per_tx} per producer "
                  f"transaction -> outbox -> relay -> broker -> {consumer} consumer ...",
                  flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                result = measure_grantflow(vhost.amqp_uri, databases, args.events,
                                           args.producers, args.workers, Path(tmp), consumer,
                                           per_tx, label.replace("-", "_"))
            variants[label] = result
            print(f"  {result['events_per_s']:.0f} events/s end to end (producer commits "
                  f"{result['producer_commits_per_s']:.0f} events/s, p50 latency "
                  f"{result['latency_p50_ms']:.0f} ms, p99 {result['latency_p99_ms']:.0f} ms, "
                  f"lost {args.events - result['consumed']}, duplicates {result['duplicates']}; "
                  f"CPU per event: producer {result['producer_cpu_ms_per_event']:.2f} ms, "
                  f"consumer {result['consumer_cpu_ms_per_event']:.2f} ms)", flush=True)
    finally:
        vhost.delete()
        databases.drop_all()
    headline = variants.get("commands") or next(iter(variants.values()))
    print(json.dumps({
        "raw_broker_msgs_per_s": round(raw["msgs_per_s"], 1),
        "grantflow_events_per_s": round(headline["events_per_s"], 1),
        "ratio": round(headline["events_per_s"] / raw["msgs_per_s"], 3),
        "events": args.events,
        "lost": sum(args.events - v["consumed"] for v in variants.values()),
        "duplicates": sum(v["duplicates"] for v in variants.values()),
        "variants": {label: {"events_per_s": round(v["events_per_s"], 1),
                             "ratio": round(v["events_per_s"] / raw["msgs_per_s"], 3),
                             "producer_events_per_s": round(v["producer_commits_per_s"], 1),
                             "latency_p50_ms": round(v["latency_p50_ms"], 1),
                             "latency_p99_ms": round(v["latency_p99_ms"], 1),
                             "producer_cpu_ms_per_event": round(v["producer_cpu_ms_per_event"], 3),
                             "consumer_cpu_ms_per_event": round(v["consumer_cpu_ms_per_event"], 3)}
                     for label, v in variants.items()},
        "bench_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
