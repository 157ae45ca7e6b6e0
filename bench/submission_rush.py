"""Submission rush: many concurrent applicants submitting and resubmitting through the
HTTP API in the last seconds before the deadline, then the deadline closes.

The real submission service runs as its own process (nameko, PostgreSQL, RabbitMQ, a
fresh vhost and database) on a simulated clock that runs at real speed and reaches the
deadline ``--rush-seconds`` after the rush starts. ``--replicas N`` runs N processes of it
on one database and broker, as a deployment scales it (deploy/README.md), each applicant's
connection going to one of them in turn as a round-robin load balancer would send it
(``accepted_per_replica``; the CPU figures are the replicas' together). Each client
process drives its share of the applicants, one keep-alive HTTP connection each, from one
selector loop (light on the machine: the clients share its cores with the service,
PostgreSQL and RabbitMQ).
Every applicant owns ``--proposals-per-client`` drafts, each created with three distinct
parts of ``--part-kb`` KB in one request (timed apart from the rush: ``drafts_per_s``,
and the service's CPU a draft, ``service_cpu_ms_per_draft``),
and submits them round-robin until the service answers 409 "deadline passed". The rush
starts once every client is ready, and each opens its connection only then (the service
closes connections idle past its keep-alive timeout); a connection closed during the rush
is reopened and the request sent again (``reconnects``). The service's own timer then
closes the topic; the benchmark reads the manifest and checks it against every receipt.

``lost`` counts proposals whose last accepted receipt is not what the manifest lists
(must be 0); ``late_accepted`` counts receipts at or after the deadline (must be 0).
Throughput is accepted submissions per second of the rush; latencies are of accepted
submissions. ``reference`` is the machine's speed measured before the rush's stack starts
and after it stops (``bench/reference.py``). The last line printed is one JSON object.

    python bench/submission_rush.py [--clients 32] [--proposals-per-client 4]
        [--rush-seconds 20] [--processes 2] [--workers 32] [--db-pool 8+0]
        [--part-kb 16] [--setup-threads 8] [--replicas 1]
    # 10,000 distinct proposals:
    python bench/submission_rush.py --clients 100 --proposals-per-client 100
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import resource
import selectors
import socket
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import reference  # noqa: E402
from bench.procstat import cpu_seconds  # noqa: E402
from shared.config import (DEFAULT_DB_MAX_OVERFLOW, DEFAULT_DB_POOL_SIZE,  # noqa: E402
                           DEFAULT_MAX_WORKERS)

UTC = timezone.utc
CALL_ID = "AMIF-2018-AG-INTE"
TOPIC = f"{CALL_ID}-1"
DEADLINE = datetime(2019, 1, 31, 16, 0, tzinfo=UTC)


class Client:
    """One keep-alive HTTP/1.1 connection with a bearer token, opened again when the
    service has closed it (it closes connections idle for longer than 75 s)."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        payload = json.dumps(body) if body is not None else ""
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=payload, headers=self.headers)
                response = self.conn.getresponse()
                return response.status, json.loads(response.read() or b"{}")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def applicant_email(process: int, thread: int) -> str:
    return f"applicant-{process}-{thread}@bench.example.eu"


def token(email: str, role: str = "applicant") -> str:
    from shared.auth import DEFAULT_DEV_SECRET, issue_token
    return issue_token(DEFAULT_DEV_SECRET, email, role)


# --------------------------------------------------------------------------- clients
class Applicant:
    """One applicant's keep-alive connection during the rush (one request in flight).

    The connection is opened when the rush starts, not when the drafts are made: the
    service closes connections idle for longer than its keep-alive timeout (75 s), which
    the setup of thousands of drafts easily exceeds. A connection the service closes
    during the rush is opened again and the request sent again (``reconnects``)."""

    def __init__(self, port: int, email: str, proposal_ids: list[str]):
        self.port = port
        self.sock: socket.socket | None = None
        auth = f"Authorization: Bearer {token(email)}\r\n"
        self.requests = [(pid, (f"POST /proposals/{pid}/submit HTTP/1.1\r\nHost: bench\r\n"
                                f"{auth}Content-Length: 0\r\n\r\n").encode())
                         for pid in proposal_ids]
        self.sent = 0
        self.buffer = b""
        self.started = 0.0
        self.reconnects = 0
        self.current, self.request = None, b""

    def connect(self) -> socket.socket:
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        return self.sock

    def send_next(self) -> None:
        self.current, self.request = self.requests[self.sent % len(self.requests)]
        self.sent += 1
        self.started = time.perf_counter()
        self.sock.sendall(self.request)

    def resend(self) -> socket.socket:
        """Reconnect and send the unanswered request again (same timing start)."""
        self.sock.close()
        self.reconnects += 1
        self.buffer = b""
        self.connect()
        self.sock.setblocking(True)
        self.sock.sendall(self.request)
        self.sock.setblocking(False)
        return self.sock

    def receive(self) -> tuple | None:
        """The outcome once a whole response is in, else None."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the service closed the connection")
        self.buffer += chunk
        head, sep, rest = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return None
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        if len(rest) < length:
            return None
        elapsed = time.perf_counter() - self.started
        self.buffer = rest[length:]
        status = int(head.split(b" ", 2)[1])
        body = json.loads(rest[:length])
        return (self.current, status, body.get("version"), body.get("content_hash"),
                body.get("received_at"), body.get("error"), elapsed, time.time())


def part_bytes(name: str, acronym: str, kilobytes: int) -> bytes:
    """A distinct file of about ``kilobytes`` KB (no two proposals share a part)."""
    line = f"%PDF-1.4 {name} of {acronym}\n".encode()
    return (line * (kilobytes * 1024 // len(line) + 1))[:max(len(line), kilobytes * 1024)]


def make_drafts(port: int, email: str, index: int, n: int, count: int,
                part_kb: int) -> list[str]:
    """One applicant's drafts, each created with its parts in one request (the form and
    its files, as the create endpoint takes them); ids in order."""
    from tests.support.submission_data import participant, part_upload, proposal_body

    setup = Client(port, token(email))
    coordinator = participant(f"City{index}x{n}", "BE", email=email, experienced=True)
    ids = []
    for k in range(count):
        acronym = f"R{index}A{n}N{k}"
        body = proposal_body(coordinator, acronym=acronym)
        body["parts"] = [part_upload(name, part_bytes(name, acronym, part_kb))
                         for name in ("part_a", "part_b", "budget")]
        status, answer = setup.request("POST", "/proposals", body)
        assert status == 201, answer
        ids.append(answer["id"])
    setup.conn.close()
    return ids


def client_process(index: int, ports: list[int], count: int, per_client: int, part_kb: int,
                   setup_threads: int, out) -> None:
    """Create the drafts (not measured), say ready, wait for the start, rush, report every
    outcome. Applicant ``n`` of this process talks to the replica at
    ``ports[(index * count + n) % len(ports)]`` (round robin over all applicants)."""
    from concurrent.futures import ThreadPoolExecutor

    emails = [applicant_email(index, n) for n in range(count)]
    port_of = [ports[(index * count + n) % len(ports)] for n in range(count)]
    with ThreadPoolExecutor(max_workers=setup_threads) as pool:
        drafts = list(pool.map(lambda n: make_drafts(port_of[n], emails[n], index, n,
                                                     per_client, part_kb), range(count)))
    applicants = [Applicant(port, email, ids)
                  for port, email, ids in zip(port_of, emails, drafts)]
    out.send("ready")
    start_at, stop_at = out.recv()
    selector = selectors.DefaultSelector()
    time.sleep(max(0.0, start_at - time.time()))
    for applicant in applicants:
        selector.register(applicant.connect(), selectors.EVENT_READ, applicant)
        applicant.send_next()
    results, active = [], len(applicants)
    while active and time.time() < stop_at:
        for key, _ in selector.select(timeout=1.0):
            applicant = key.data
            try:
                outcome = applicant.receive()
            except (ConnectionError, OSError):
                selector.unregister(applicant.sock)
                selector.register(applicant.resend(), selectors.EVENT_READ, applicant)
                continue
            if outcome is None:
                continue
            results.append((*outcome, applicant.port))
            if outcome[1] == 409 and outcome[5] == "deadline_passed":
                selector.unregister(applicant.sock)
                applicant.sock.close()
                active -= 1
            else:
                applicant.send_next()
    out.send((results, sum(a.reconnects for a in applicants)))
    out.close()


# --------------------------------------------------------------------------- service
def start_replicas(amqp_uri: str, databases, run_dir: Path, clock_path: Path, workers: int,
                   replicas: int = 1,
                   db_pool: tuple[int, int] = (DEFAULT_DB_POOL_SIZE, DEFAULT_DB_MAX_OVERFLOW)
                   ) -> list[tuple]:
    """``replicas`` submission processes on one database and vhost: (process, port) each.
    The first starts alone (it migrates the database), the others beside each other; if
    one does not start, those started are stopped."""
    from grantflow.processes import ServiceProcess, stop_all
    from grantflow.topology import declare_all
    from shared.config import SERVICE_CLASSES, service_config
    from tests.support.infra import free_port

    declare_all(amqp_uri, services=["submission"])
    started = []
    try:
        for replica in range(replicas):
            port = free_port()
            config = service_config(
                "submission", ENV="development", AMQP_URI=amqp_uri,
                WEB_SERVER_ADDRESS=f"127.0.0.1:{port}",
                DATABASE_URL=databases.url("submission"), VAR_DIR=str(run_dir),
                CLOCK=f"file:{clock_path}", max_workers=workers,
                DB_POOL={"size": db_pool[0], "max_overflow": db_pool[1]})
            config["LOGGING"]["root"]["level"] = "WARNING"
            name = "submission" if replica == 0 else f"submission-{replica + 1}"
            process = ServiceProcess(name, config, run_dir,
                                     service_class=SERVICE_CLASSES["submission"]).start()
            started.append((process, port))
            if replica == 0:
                process.wait_healthy()
        for process, _ in started[1:]:
            process.wait_healthy()
    except BaseException:
        stop_all([process for process, _ in started])
        raise
    return started


def _pool(text: str) -> tuple[int, int]:
    size, _, overflow = text.partition("+")
    if not (size.isdigit() and overflow.isdigit() and int(size) >= 1):
        raise argparse.ArgumentTypeError(f"SIZE+OVERFLOW, e.g. 16+8, not {text!r}")
    return int(size), int(overflow)


def replicas_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def check_manifest(outcomes: list[tuple], manifest: list[dict]) -> dict:
    """Compare the receipts the clients got with the published manifest."""
    last: dict[str, tuple] = {}
    late = 0
    for proposal_id, status, version, content_hash, received_at, *_ in outcomes:
        if status != 200:
            continue
        if datetime.fromisoformat(received_at) >= DEADLINE:
            late += 1
        if proposal_id not in last or version > last[proposal_id][0]:
            last[proposal_id] = (version, content_hash, received_at)
    listed = {e["proposal_id"]: (e["version"], e["content_hash"], e["received_at"])
              for e in manifest}
    lost = sum(1 for pid, receipt in last.items() if listed.get(pid) != receipt)
    unreceipted = sum(1 for pid, entry in listed.items()
                      if pid in last and entry[0] > last[pid][0])
    return {"lost": lost, "late_accepted": late, "unreceipted_in_manifest": unreceipted,
            "proposals_with_receipts": len(last), "manifest_entries": len(manifest)}


def run(args) -> dict:
    from grantflow.processes import stop_all
    from shared.clock import SimulatedClock
    from tests.support.infra import Databases, Vhost
    from tests.support.submission_data import call_yaml

    vhost, databases = Vhost().create(), Databases()
    tmp = tempfile.TemporaryDirectory()
    run_dir = Path(tmp.name)
    clock = SimulatedClock(run_dir / "clock.json")
    clock.set(DEADLINE - timedelta(hours=1))  # stands still while drafts are made
    replicas = []
    try:
        replicas = start_replicas(vhost.amqp_uri, databases, run_dir, clock.path,
                                  args.workers, args.replicas, args.db_pool)
        ports = [port for _, port in replicas]
        pids = [process.pid() for process, _ in replicas]
        ops = Client(ports[0], token("ops@bench.example.eu", "operations"))
        status, body = ops.request("POST", "/calls", {"yaml": call_yaml()})
        assert status == 201, body
        per_process = args.clients // args.processes
        pipes, procs = [], []
        for index in range(args.processes):
            mine, theirs = multiprocessing.Pipe()
            proc = multiprocessing.Process(target=client_process, args=(
                index, ports, per_process, args.proposals_per_client, args.part_kb,
                args.setup_threads, theirs))
            proc.start()
            pipes.append(mine)
            procs.append(proc)
        drafts = args.processes * per_process * args.proposals_per_client
        print(f"{args.processes * per_process} applicants x {args.proposals_per_client} drafts "
              f"with 3 parts of {args.part_kb} KB each (service pids {pids})", flush=True)
        setup_started, setup_cpu = time.time(), replicas_cpu(pids)
        for pipe in pipes:
            assert pipe.recv() == "ready"
        setup_seconds = time.time() - setup_started
        draft_cpu = replicas_cpu(pids) - setup_cpu
        print(f"{drafts} drafts in {setup_seconds:.1f}s ({drafts / setup_seconds:.0f}/s); "
              f"rush of {args.rush_seconds}s starts", flush=True)
        start_at = time.time() + 1.0
        stop_at = start_at + args.rush_seconds + 30  # safety net; clients stop at the 409
        for pipe in pipes:
            pipe.send((start_at, stop_at))
        time.sleep(max(0.0, start_at - time.time() - 0.2))
        # the simulated clock runs at real speed from here and reaches the deadline on time
        clock.set(DEADLINE - timedelta(seconds=args.rush_seconds + 0.2), rate=1.0)
        deadline_wall = start_at + args.rush_seconds
        time.sleep(max(0.0, start_at - time.time()))
        cpu_before = replicas_cpu(pids)
        time.sleep(max(0.0, deadline_wall - time.time()))
        service_cpu = replicas_cpu(pids) - cpu_before
        received = [pipe.recv() for pipe in pipes]
        outcomes = [row for rows, _ in received for row in rows]
        reconnects = sum(n for _, n in received)
        for proc in procs:
            proc.join()
        manifest, closed_after = None, None
        while time.time() < deadline_wall + 120:
            status, body = ops.request("GET", f"/calls/{CALL_ID}/topics/{TOPIC}/manifest")
            if status == 200:
                manifest, closed_after = body, time.time() - deadline_wall
                break
            time.sleep(0.2)
        assert manifest is not None, "the topic never closed"
    finally:
        stop_all([process for process, _ in replicas])
        vhost.delete()
        databases.drop_all()
        tmp.cleanup()
    accepted = [o for o in outcomes if o[1] == 200]
    refused = [o for o in outcomes if o[1] == 409 and o[5] == "deadline_passed"]
    errors = [o for o in outcomes if o[1] != 200 and o not in refused]
    in_rush = [o for o in accepted if o[7] <= deadline_wall]
    latencies = [o[6] * 1000 for o in accepted]
    return {"submissions_per_s": round(len(in_rush) / args.rush_seconds, 1),
            "p50_ms": round(percentile(latencies, 0.50), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "mean_ms": round(statistics.fmean(latencies), 1),
            **check_manifest(outcomes, manifest["manifest"]),
            "accepted": len(accepted), "refused_after_deadline": len(refused),
            "errors": len(errors), "clients": args.processes * per_process,
            "proposals": args.processes * per_process * args.proposals_per_client,
            "rush_seconds": args.rush_seconds, "reconnects": reconnects,
            "drafts_per_s": round(drafts / setup_seconds, 1), "part_kb": args.part_kb,
            "service_cpu_ms_per_draft": round(draft_cpu * 1000 / max(1, drafts), 2),
            "manifest_after_deadline_s": round(closed_after, 2),
            "service_cpu_ms_per_submission": round(service_cpu * 1000 / max(1, len(in_rush)), 2),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "service_workers": args.workers, "replicas": args.replicas,
            "db_pool": "+".join(map(str, args.db_pool)),
            "accepted_per_replica": [sum(1 for o in accepted if o[8] == port)
                                     for port in ports],
            "bench_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                       / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--proposals-per-client", type=int, default=4)
    parser.add_argument("--rush-seconds", type=float, default=20)
    parser.add_argument("--processes", type=int, default=2)
    # the service as deployed by default (shared.config). This bench ran 64 workers on
    # 16 + 8 connections before, which lengthened the rush's tail: p99 594 to 771 ms in
    # four runs against 277 to 578 ms in six at the defaults (throughput alike: 530 to 634
    # and 439 to 760 a second; this machine's spread from run to run is that wide)
    parser.add_argument("--workers", type=int, default=DEFAULT_MAX_WORKERS)
    parser.add_argument("--db-pool", type=_pool, metavar="SIZE+OVERFLOW",
                        default=(DEFAULT_DB_POOL_SIZE, DEFAULT_DB_MAX_OVERFLOW),
                        help="the service's PostgreSQL pool (default: the service's, "
                             f"{DEFAULT_DB_POOL_SIZE}+{DEFAULT_DB_MAX_OVERFLOW})")
    parser.add_argument("--part-kb", type=int, default=16,
                        help="size of each of a draft's three parts (distinct per proposal)")
    parser.add_argument("--setup-threads", type=int, default=8,
                        help="drafts created at once per client process")
    parser.add_argument("--replicas", type=int, default=1,
                        help="submission processes on one database, the applicants spread "
                             "over them in turn")
    args = parser.parse_args(argv)
    if not 1 <= args.replicas <= 8:
        parser.error("--replicas: 1 to 8")
    figures = reference.around(lambda: run(args))
    print(f"{figures['submissions_per_s']} submissions/s, p50 {figures['p50_ms']} ms, "
          f"p99 {figures['p99_ms']} ms, lost {figures['lost']}", flush=True)
    print(json.dumps(figures))
    return 0 if figures["lost"] == 0 and figures["late_accepted"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
