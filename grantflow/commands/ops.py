"""``grantflow token``, ``grantflow dlq``, ``grantflow topology``: operations utilities."""
from __future__ import annotations

import json
import sys
from datetime import timedelta

from grantflow.http import dev_token
from grantflow.topology import declare_all
from shared.auth import ROLES
from shared.config import DEFAULT_AMQP_URI, env, retry_delays_ms
from shared.messaging import dlq


def register(subparsers) -> None:
    token = subparsers.add_parser("token", help="development bearer tokens")
    token_sub = token.add_subparsers(dest="action", required=True)
    issue = token_sub.add_parser("issue", help="print a signed token for a role and email")
    issue.add_argument("--role", required=True, choices=ROLES)
    issue.add_argument("--email", required=True)
    issue.add_argument("--hours", type=float, default=None,
                       help="lifetime (default and maximum: the role's, shared.auth)")
    issue.add_argument("--days", type=float, default=None, help="lifetime in days")
    issue.set_defaults(func=cmd_token_issue)

    dead = subparsers.add_parser("dlq", help="the dead-letter queue")
    dead_sub = dead.add_subparsers(dest="action", required=True)
    listing = dead_sub.add_parser("list", help="show dead letters (the queue is unchanged)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_dlq_list)
    replay = dead_sub.add_parser("replay", help="send dead letters back to their handler")
    replay.add_argument("--event-id", help="only this event")
    replay.set_defaults(func=cmd_dlq_replay)

    topo = subparsers.add_parser("topology", help="broker queues and bindings")
    topo_sub = topo.add_subparsers(dest="action", required=True)
    declare = topo_sub.add_parser("declare", help="declare every consumer queue now")
    declare.set_defaults(func=cmd_topology_declare)
    prune = topo_sub.add_parser(
        "prune", help="delete the queues of handlers that no longer exist",
        description="Delete Grantflow's consumer queues (evt-<producer>-<event>--<service>."
                    "<method>) in this stack's vhost that no @subscribe entrypoint of the code "
                    "declares any more (a renamed or removed handler), and the delay queues of "
                    "retry delays no longer configured. Other programs' queues are never "
                    "touched. A queue still holding messages is kept unless --force.")
    prune.add_argument("--dry-run", action="store_true", help="only print what would go")
    prune.add_argument("--force", action="store_true",
                       help="also delete stale queues that still hold messages (they are lost)")
    prune.set_defaults(func=cmd_topology_prune)


def _amqp_uri() -> str:
    return env("AMQP_URI", DEFAULT_AMQP_URI)


def cmd_token_issue(args) -> int:
    ttl = timedelta(days=args.days) if args.days is not None else \
        timedelta(hours=args.hours) if args.hours is not None else None
    try:
        print(dev_token(args.email, args.role, ttl=ttl))
    except ValueError as exc:
        print(f"grantflow token issue: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_dlq_list(args) -> int:
    try:
        letters = dlq.list_dead_letters(_amqp_uri())
    except dlq.DeadLettersBusy as exc:
        print(f"grantflow dlq list: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([letter.to_dict() for letter in letters], indent=2, default=str))
        return 0
    if not letters:
        print("the dead-letter queue is empty")
    for letter in letters:
        print(f"{letter.dead_lettered_at or '-':32} {letter.event_type or '?':28} "
              f"{letter.event_id or '-':36} queue {letter.queue} attempts {letter.attempts}\n"
              f"    error: {letter.error}")
    return 0


def cmd_dlq_replay(args) -> int:
    try:
        replayed = dlq.replay(_amqp_uri(), event_id=args.event_id)
    except dlq.DeadLettersBusy as exc:
        print(f"grantflow dlq replay: {exc}", file=sys.stderr)
        return 1
    for letter in replayed:
        print(f"replayed {letter.event_type} {letter.event_id} -> {letter.queue}")
    if args.event_id and not replayed:
        print(f"no dead letter with event id {args.event_id}")
        return 1
    print(f"{len(replayed)} message(s) replayed")
    return 0


def cmd_topology_declare(args) -> int:
    count = declare_all(_amqp_uri(), queue_type=env("QUEUE_TYPE", "classic"),
                        retry_delays_ms=retry_delays_ms())
    print(f"declared {count} queues with their exchanges and bindings")
    return 0


def cmd_topology_prune(args) -> int:
    from grantflow import stack
    from grantflow.topology import prune, stale_queues

    vhost = stack.vhost_of(_amqp_uri())
    try:
        stale = stale_queues(stack.queues(vhost), queue_type=env("QUEUE_TYPE", "classic"),
                             retry_delays_ms=retry_delays_ms())
    except stack.StackError as exc:
        print(f"grantflow topology prune: {exc}", file=sys.stderr)
        return 3
    if not stale:
        print(f"no stale queue in vhost {vhost!r}")
        return 0
    done = prune(_amqp_uri(), [q["name"] for q in stale], dry_run=args.dry_run,
                 force=args.force)
    for name, messages, action in done:
        hint = "; --force deletes them" if action == "kept" else ""
        print(f"{action:7} {name} ({messages} message(s){hint})")
    return 1 if any(action == "kept" for _, _, action in done) else 0
