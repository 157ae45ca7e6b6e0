"""``grantflow export``: the delivery log paged by position and written as pages come;
every export never a half file and readable by its owner only. Against a stand-in HTTP
server on loopback (the real services' CSV is exercised in
tests/integration/cli/test_stack_commands.py)."""
import csv
import io
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from grantflow.cli import main
from grantflow.commands import exports
from tests.support.fake_http import JsonHandler

LOG = [{"id": f"00000000-0000-0000-0000-00000000000{n}", "template": "submission_receipt",
        "recipient": f"c{n}@example.org", "status": "sent"} for n in range(1, 6)]


class StandIn(JsonHandler):
    asked: list = []
    fail_after: str | None = None  # answer 503 to the page after this delivery

    def do_GET(self):
        if urlparse(self.path).path.startswith("/calls/NO-SUCH-CALL/"):
            return self.answer({"error": "not_found", "message": "no such call"}, 404)
        query = parse_qs(urlparse(self.path).query)
        StandIn.asked.append(query)
        after = query.get("after", [None])[0]
        if after is not None and after == StandIn.fail_after:
            return self.answer({"error": "unavailable", "message": "try again"}, 503)
        start = 0 if after is None else [r["id"] for r in LOG].index(after) + 1
        page = LOG[start:start + int(query.get("limit", [len(LOG)])[0])]
        out = io.StringIO()
        writer = csv.DictWriter(out, list(LOG[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(page)
        data = out.getvalue().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def service(monkeypatch):
    StandIn.asked, StandIn.fail_after = [], None
    monkeypatch.setattr(exports, "DELIVERY_PAGE", 2)
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pages_follow_the_last_delivery_and_make_one_file(service, tmp_path, capsys):
    target = tmp_path / "log.csv"
    assert main(["export", "deliveries", "--url", service, "--call", "AMIF",
                 "-o", str(target)]) == 0
    assert [q.get("after", [None])[0] for q in StandIn.asked] == [None, LOG[1]["id"], LOG[3]["id"]]
    assert all(q["call_id"] == ["AMIF"] and "offset" not in q for q in StandIn.asked)
    assert list(csv.DictReader(target.open(newline=""))) == LOG
    assert "5 row(s) written to" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["log.csv"]
    assert target.stat().st_mode & 0o777 == 0o600  # names and addresses: the owner's only


def test_a_page_refused_half_way_leaves_no_file(service, tmp_path):
    StandIn.fail_after = LOG[1]["id"]
    target = tmp_path / "log.csv"
    assert main(["export", "deliveries", "--url", service, "-o", str(target)]) == 3
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary part


def test_without_output_the_pages_go_to_standard_output(service, capsys):
    assert main(["export", "deliveries", "--url", service]) == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out))) == LOG


def test_a_single_request_export_is_written_the_same_way(service, tmp_path, capsys):
    """Rankings and assignments (one request each) go through the paged export's output:
    owner-only, and a refused export leaves an earlier file of that name as it was."""
    target = tmp_path / "rankings.csv"
    assert main(["export", "rankings", "AMIF", "--url", service, "-o", str(target)]) == 0
    assert target.stat().st_mode & 0o777 == 0o600
    assert list(csv.DictReader(target.open(newline=""))) == LOG  # the stand-in's CSV
    assert "5 row(s) written to" in capsys.readouterr().out
    before = target.read_bytes()
    assert main(["export", "rankings", "NO-SUCH-CALL", "--url", service,
                 "-o", str(target)]) == 1
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["rankings.csv"]
