"""``grantflow export rankings | assignments | deliveries``: CSV from the owning services.

    grantflow export rankings AMIF-2018-AG-INTE [--topic T] [--output rankings.csv]
    grantflow export assignments [--topic T] [--expert E] [--output assignments.csv]
    grantflow export deliveries [--call C] [--status failed] [--output delivery-log.csv]

The rankings and assignments come from the evaluation service
(``GET /calls/<call_id>/rankings.csv``, ``GET /assignments.csv``), the delivery log from the
notifications service (``GET /notifications.csv``, fetched page by page), each with an
operations token. The CSV is written with the ``csv`` module and text cells that a
spreadsheet would take for a formula are made inert (``shared/csvexport.py``). Without
``--output`` it goes to standard output. With it, every export is written the same way
(:class:`_CsvOutput`): into a temporary file beside the target that takes its name once
the whole export came, readable by its owner only (0600: the files hold applicants' and
experts' names and addresses), so a refused or failed export leaves no file, and an
earlier export of the same name stays whole. Exit codes: 0 ok, 1 refused (unknown call
or topic, not ranked yet), 2 bad input, 3 the service is down.
"""
from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
from pathlib import Path

from grantflow.http import OK, Client, connection_options

DELIVERY_PAGE = 10_000


def register(subparsers) -> None:
    group = subparsers.add_parser("export", help="CSV exports: rankings, assignments, "
                                                 "the delivery log")
    sub = group.add_subparsers(dest="action", required=True)

    rankings = sub.add_parser("rankings", parents=[connection_options("evaluation",
                                                                      json_flag=False)],
                              help="the published ranking lists of a call (one row each)")
    rankings.add_argument("call_id")
    rankings.add_argument("--topic", dest="topic_id", help="only this topic")
    rankings.set_defaults(func=cmd_rankings)

    assignments = sub.add_parser("assignments", parents=[connection_options(
        "evaluation", json_flag=False)], help="the active expert assignments")
    assignments.add_argument("--topic", dest="topic_id")
    assignments.add_argument("--expert", dest="expert_id")
    assignments.set_defaults(func=cmd_assignments)

    deliveries = sub.add_parser("deliveries", parents=[connection_options(
        "notifications", json_flag=False)], help="the delivery log (every message)")
    deliveries.add_argument("--call", dest="call_id")
    deliveries.add_argument("--proposal", dest="proposal_id")
    deliveries.add_argument("--recipient")
    deliveries.add_argument("--status")
    deliveries.add_argument("--template")
    deliveries.set_defaults(func=cmd_deliveries)

    for parser in (rankings, assignments, deliveries):
        parser.add_argument("--output", "-o", metavar="FILE",
                            help="write the CSV here (default: standard output)")


def _params(args, *names) -> dict:
    return {name: value for name in names if (value := getattr(args, name, None))}


def _export(args, service: str, path: str, params: dict) -> int:
    """One request's CSV, through the same output as the paged delivery log."""
    code, text = Client(args, service).fetch("GET", path, params=params)
    if code != OK:
        return code
    with _CsvOutput(args.output) as out:
        out.write(list(csv.reader(io.StringIO(text))))
        return out.done()


def cmd_rankings(args) -> int:
    return _export(args, "evaluation", f"/calls/{args.call_id}/rankings.csv",
                   _params(args, "topic_id"))


def cmd_assignments(args) -> int:
    return _export(args, "evaluation", "/assignments.csv", _params(args, "topic_id", "expert_id"))


def cmd_deliveries(args) -> int:
    """Page by page, each a bounded request starting after the last delivery of the page
    before (``after``: the service finds it through the log's index however deep, where
    an offset made it read every earlier row again, the square of the log's size in
    all); one header in the file. Rows are written as their page comes, so the export of
    a 100,000-proposal call (about 1.75 million deliveries) is never held in memory; with
    ``--output`` into a temporary file that takes the file's name only once every page
    came, so a failure leaves no half export behind."""
    client = Client(args, "notifications")
    params = _params(args, "call_id", "proposal_id", "recipient", "status", "template")
    with _CsvOutput(args.output) as out:
        after = None
        while True:
            code, text = client.fetch("GET", "/notifications.csv", params={
                **params, "limit": DELIVERY_PAGE, **({"after": after} if after else {})})
            if code != OK:
                return code
            header, *rows = csv.reader(io.StringIO(text))
            out.write(rows if after is not None else [header, *rows])
            if len(rows) < DELIVERY_PAGE:
                return out.done()
            after = rows[-1][header.index("id")]


class _CsvOutput:
    """CSV rows (the header first) to standard output, or to ``path`` through a temporary
    file beside it (created 0600) that replaces ``path`` on :meth:`done` and is removed
    otherwise."""

    def __init__(self, path: str | None):
        self.path, self.rows, self._temp = path, -1, None  # the header is not a row

    def __enter__(self) -> "_CsvOutput":
        if self.path:
            target = Path(self.path).resolve()
            self._temp = tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", newline="", dir=target.parent,
                prefix=f".{target.name}.", suffix=".part", delete=False)
        stream = self._temp or sys.stdout
        self._writer = csv.writer(stream, lineterminator="\r\n")
        return self

    def write(self, rows: list[list[str]]) -> None:
        self._writer.writerows(rows)
        self.rows += len(rows)

    def done(self) -> int:
        if self._temp is not None:
            self._temp.close()
            os.replace(self._temp.name, self.path)
            self._temp = None
            print(f"{self.rows} row(s) written to {self.path}")
        return OK

    def __exit__(self, *exc_info) -> None:
        if self._temp is not None:  # not done: an error or a refused page
            self._temp.close()
            os.unlink(self._temp.name)
