"""``grantflow proposal create | list | show | edit | attach | submit | withdraw | verify``.

Talks to the submission service like ``grantflow call`` (same ``--url``/``--token``
options and exit codes: 0 ok, 1 failure, 2 bad input, 3 service down). An applicant acts
with ``--as EMAIL`` (a development token for that address, which must be a contact of the
consortium) or their own token (``--token``, ``GRANTFLOW_TOKEN``).

``verify`` checks a receipt against the published closing manifest *locally*: it
recomputes the manifest hash from the entries rather than trusting the service.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

from grantflow.commands.calls import submission
from grantflow.http import BAD_INPUT, FAILURE, OK, call_argument, connection_options


EXAMPLE = "examples/proposal.json"


def create_help() -> str:
    """The proposal form's fields, read from the submission service's own schema."""
    from services.submission.schemas import ParticipantSchema, ProposalCreateSchema

    def listing(schema) -> list[str]:
        return [f"  {name}{'' if field.required else ' (optional)'}"
                for name, field in schema().fields.items() if name != "parts"]

    return "\n".join([
        "The JSON file holds the proposal form (POST /proposals), with these fields:",
        *listing(ProposalCreateSchema),
        "coordinator and each of co_applicants are participants with:",
        *listing(ParticipantSchema),
        "Amounts are text (\"780000.00\"); integration_areas are ids of the call file.",
        "Parts (part_a, part_b, budget for AMIF-2018-AG-INTE) come with --part NAME=PATH.",
        "The token's email (--as EMAIL) must be the contact_email of the coordinator or of a",
        "co-applicant. Example, with the files of examples/:",
        f"  grantflow proposal create {EXAMPLE} --as you@example.org \\",
        "    --part part_a=examples/parts/part_a.txt --part part_b=examples/parts/part_b.txt \\",
        "    --part budget=examples/parts/budget.txt",
    ])


def register(subparsers) -> None:
    common = connection_options(
        "submission", as_help="act as this applicant (a development token for EMAIL, a "
                              "contact of the consortium)")
    group = subparsers.add_parser("proposal", help="proposals: drafts, parts, submission")
    sub = group.add_subparsers(dest="action", required=True)

    create = sub.add_parser("create", parents=[common],
                            help="create a draft from a JSON file (POST /proposals body)",
                            description="Create a draft proposal from a JSON file.",
                            epilog=create_help(),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    create.add_argument("file", type=Path)
    create.add_argument("--part", action="append", default=[], metavar="NAME=PATH",
                        help="attach a file as part NAME (repeatable)")
    create.set_defaults(func=cmd_create)

    listing = sub.add_parser("list", parents=[common], help="proposals you can see")
    call_argument(listing)
    listing.add_argument("--topic", dest="topic_id")
    listing.add_argument("--state", choices=("draft", "submitted", "withdrawn", "frozen"))
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--after", metavar="ID",
                         help="the page after this proposal (the last one listed before)")
    listing.set_defaults(func=cmd_list)

    show = sub.add_parser("show", parents=[common], help="a proposal, its versions, screening")
    show.add_argument("proposal_id")
    show.set_defaults(func=cmd_show)

    edit = sub.add_parser("edit", parents=[common],
                          help="change fields from a JSON file (PATCH body)")
    edit.add_argument("proposal_id")
    edit.add_argument("file", type=Path)
    edit.set_defaults(func=cmd_edit)

    attach = sub.add_parser("attach", parents=[common], help="upload a part from a file")
    attach.add_argument("proposal_id")
    attach.add_argument("name", help="part_a, part_b, budget...")
    attach.add_argument("path", type=Path)
    attach.set_defaults(func=cmd_attach)

    submit = sub.add_parser("submit", parents=[common],
                            help="submit (or resubmit) and print the receipt")
    submit.add_argument("proposal_id")
    submit.set_defaults(func=cmd_submit)

    withdraw = sub.add_parser("withdraw", parents=[common], help="withdraw for good")
    withdraw.add_argument("proposal_id")
    withdraw.add_argument("--reason", default="")
    withdraw.set_defaults(func=cmd_withdraw)

    verify = sub.add_parser("verify", parents=[common],
                            help="check a receipt against the topic's closing manifest")
    verify.add_argument("receipt", type=Path, help="the receipt JSON (submit --json)")
    verify.add_argument("--call", dest="call_id", required=True)
    verify.add_argument("--topic", dest="topic_id", required=True)
    verify.set_defaults(func=cmd_verify)


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"cannot read JSON from {path}: {exc}", file=sys.stderr)
        return None
    if not isinstance(data, dict):
        print(f"{path}: must hold a JSON object", file=sys.stderr)
        return None
    return data


def _parts(specs: list[str]) -> list[dict] | None:
    parts = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            print(f"--part {spec!r}: write NAME=PATH", file=sys.stderr)
            return None
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            print(f"--part {spec!r}: {exc}", file=sys.stderr)
            return None
        parts.append({"name": name, "filename": Path(path).name,
                      "content_base64": base64.b64encode(data).decode()})
    return parts


# --------------------------------------------------------------------------- commands
def cmd_create(args) -> int:
    body, parts = _read_json(args.file), _parts(args.part)
    if body is None or parts is None:
        return BAD_INPUT
    body["parts"] = [*body.get("parts", []), *parts]
    return submission(args).call("POST", "/proposals", _print_proposal, json=body)


def cmd_list(args) -> int:
    params = {k: getattr(args, k) for k in ("call_id", "topic_id", "state", "limit",
                                            "offset", "after")
              if getattr(args, k) is not None}
    return submission(args).call("GET", "/proposals", _print_list, params=params)


def cmd_show(args) -> int:
    return submission(args).call("GET", f"/proposals/{args.proposal_id}", _print_proposal)


def cmd_edit(args) -> int:
    body = _read_json(args.file)
    if body is None:
        return BAD_INPUT
    return submission(args).call("PATCH", f"/proposals/{args.proposal_id}", _print_proposal,
                                 json=body)


def cmd_attach(args) -> int:
    try:
        data = args.path.read_bytes()
    except OSError as exc:
        print(f"cannot read {args.path}: {exc}", file=sys.stderr)
        return BAD_INPUT
    return submission(args).call(
        "PUT", f"/proposals/{args.proposal_id}/parts/{args.name}", _print_proposal, data=data,
        params={"filename": args.path.name},
        headers={"Content-Type": "application/octet-stream"})


def cmd_submit(args) -> int:
    return submission(args).call("POST", f"/proposals/{args.proposal_id}/submit",
                                 _print_receipt)


def cmd_withdraw(args) -> int:
    return submission(args).call("POST", f"/proposals/{args.proposal_id}/withdraw",
                                 _print_proposal, json={"reason": args.reason})


def cmd_verify(args) -> int:
    from services.submission.domain.manifest import check_entry

    receipt = _read_json(args.receipt)
    if receipt is None or not {"proposal_id", "content_hash", "version"} <= set(receipt):
        print("the receipt must hold proposal_id, version and content_hash", file=sys.stderr)
        return BAD_INPUT
    code, manifest = submission(args).fetch(
        "GET", f"/calls/{args.call_id}/topics/{args.topic_id}/manifest")
    if code != OK:
        return code
    check = check_entry(manifest["manifest"], manifest["manifest_hash"],
                        proposal_id=receipt["proposal_id"],
                        content_hash=receipt["content_hash"], version=receipt["version"])
    if check.ok:
        print(f"ok: proposal {receipt['proposal_id']} version {receipt['version']} is in the "
              f"manifest of {args.topic_id} (hash {manifest['manifest_hash']} recomputed)")
        return OK
    print(f"NOT confirmed: proposal {receipt['proposal_id']} version {receipt['version']}")
    for problem in check.problems:
        print(f"  - {problem}")
    return FAILURE


# --------------------------------------------------------------------------- output
def _print_receipt(data: dict) -> None:
    print(f"receipt: proposal {data['proposal_id']} version {data['version']} received "
          f"{data['received_at']}\n  content hash {data['content_hash']}")


def _print_list(data: list) -> None:
    if not data:
        print("no proposal")
    for p in data:
        print(f"{p['id']:16} {p['state']:9} v{p['latest_version']:<3} {p['topic_id']:22} "
              f"{p['acronym']:14} {p['title']}")


def _print_proposal(data: dict) -> None:
    print(f"{data['id']} {data['acronym']} ({data['state']}) {data['call_id']} / "
          f"{data['topic_id']}\n  {data['title']}")
    print(f"  deadline {data['deadline']}; contacts {', '.join(data['contact_emails'])}")
    for part in data["parts"]:
        print(f"  part {part['name']:8} {part['size']:>9} bytes  {part['sha256']}  "
              f"{part['filename']}")
    for version in data["versions"]:
        print(f"  version {version['version']}: {version['received_at']}  "
              f"{version['content_hash']}")
    if data["has_unsubmitted_changes"] and data["state"] in ("draft", "submitted"):
        print("  (the working copy has changes not submitted yet)")
    screening = data.get("screening")
    if screening:
        print(f"  screening of version {screening['version']}: admissible "
              f"{screening['admissible']}, eligible {screening['eligible']}")
        for failure in screening["failed_rules"]:
            print(f"    - {failure['rule']}: {failure['message']}")
