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
    letters = dlq.list_dead_letters(_amqp_uri())
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
    replayed = dlq.replay(_amqp_uri(), event_id=args.event_id)
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
