"""``grantflow demo`` and ``grantflow scenario run``: whole calls through the real services."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo", help="replay AMIF-2018-AG-INTE end to end on a fresh private stack")
    demo.add_argument("--proposals", type=int, default=200)
    demo.add_argument("--experts", type=int, default=80)
    demo.add_argument("--seed", type=int, default=2019)
    demo.add_argument("--json", default="var/demo-report.json", help="where to write the report")
    demo.add_argument("--keep-running", action="store_true",
                      help="leave the services up afterwards (to look at the operations page)")
    demo.add_argument("--resume", action="store_true",
                      help="continue an interrupted demo (same --proposals, --experts, --seed) "
                           "from what its services hold, without resetting anything")
    demo.add_argument("--workers", type=_workers, default=None,
                      help="people acting at once (default 32)")
    demo.set_defaults(func=cmd_demo)

    scenario = subparsers.add_parser("scenario", help="scenario files (docs/scenarios.md)")
    sub = scenario.add_subparsers(dest="action", required=True)
    run = sub.add_parser(
        "run", help="run a scenario on a fresh private stack (or --stack existing)",
        description="Run a scenario file through the real services. By default on a private "
                    "stack of its own, reset first as the demo's is: vhost grantflow-scenario, "
                    "databases grantflow_scenario_*, directory var/scenario, a local SMTP "
                    "server (any GRANTFLOW_* variable you set wins). --stack existing runs it "
                    "against the services already up (GRANTFLOW_CLOCK=simulated), as they are.")
    run.add_argument("file")
    run.add_argument("--json", help="write the report here")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--stack", choices=("private", "existing"), default="private",
                     help="private (default): reset and start a stack of its own; existing: "
                          "use the running services")
    run.add_argument("--keep-running", action="store_true",
                     help="with a private stack: leave its services up afterwards")
    run.add_argument("--resume", action="store_true",
                     help="continue an interrupted run of this scenario and seed from what the "
                          "services hold")
    run.add_argument("--workers", type=_workers, default=None,
                     help="people acting at once (default 32)")
    run.set_defaults(func=cmd_scenario_run)
    check = sub.add_parser("validate", help="check a scenario file")
    check.add_argument("file")
    check.set_defaults(func=cmd_scenario_validate)


def _workers(text: str) -> int:
    import argparse
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 256, not {text!r}")
    return value


def cmd_demo(args) -> int:
    from grantflow.demo import DemoError, run_demo
    if args.proposals < 1 or args.experts < 1:
        print("grantflow demo: --proposals and --experts must be at least 1", file=sys.stderr)
        return 2
    try:
        report = run_demo(args.proposals, args.experts, args.seed, args.json, args.keep_running,
                          resume=args.resume, workers=args.workers)
    except DemoError as exc:
        print(f"grantflow demo: {exc}", file=sys.stderr)
        return 3
    unfinished = [p["id"] for p in report["proposals"] if not p.get("final_state")]
    if unfinished:
        print(f"grantflow demo: {len(unfinished)} proposal(s) did not reach a final state: "
              f"{', '.join(unfinished[:10])}", file=sys.stderr)
        return 1
    return 0


def cmd_scenario_validate(args) -> int:
    from grantflow.scenario.loader import InvalidScenario, load_scenario_file
    try:
        scenario = load_scenario_file(args.file)
    except (InvalidScenario, OSError) as exc:
        for problem in getattr(exc, "problems", [str(exc)]):
            print(f"{args.file}: {problem}", file=sys.stderr)
        return 2
    print(f"{args.file}: valid ({len(scenario.proposals)} proposals, "
          f"{len(scenario.experts)} experts)")
    return 0


def cmd_scenario_run(args) -> int:
    import requests

    from grantflow import runtime, stack
    from grantflow.scenario.environment import Environment
    from grantflow.scenario.loader import InvalidScenario, load_scenario_file
    from grantflow.scenario.runner import DEFAULT_WORKERS, ScenarioError, ScenarioRunner
    from grantflow.scenario.summary import check_expectations, print_summary
    try:
        scenario = load_scenario_file(args.file)
    except (InvalidScenario, OSError) as exc:
        for problem in getattr(exc, "problems", [str(exc)]):
            print(f"{args.file}: {problem}", file=sys.stderr)
        return 2
    try:
        environment = Environment.from_env
        what = f"grantflow scenario run {args.file}"
        if args.stack == "existing":
            with stack.held(what):
                report = ScenarioRunner(scenario, environment(), progress=print,
                                        seed=args.seed, resume=args.resume,
                                        workers=args.workers or DEFAULT_WORKERS).run()
        else:
            stack.apply_environment(stack.private_environment("scenario"))
            with stack.running(print, keep_running=args.keep_running, fresh=not args.resume,
                               what=what):
                report = ScenarioRunner(scenario, environment(), progress=print,
                                        seed=args.seed, resume=args.resume,
                                        workers=args.workers or DEFAULT_WORKERS).run()
    except ScenarioError as exc:
        print(f"grantflow scenario run: {exc}", file=sys.stderr)
        return 1
    except requests.ConnectionError as exc:
        from grantflow.http import service_of, unreachable
        from shared.config import SERVICES, base_url
        name, url = service_of(exc, {service: base_url(service) for service in SERVICES})
        print(f"grantflow scenario run: {unreachable(name, url, exc)}", file=sys.stderr)
        return 3
    except (stack.StackError, runtime.NotReady) as exc:
        print(f"grantflow scenario run: {exc}", file=sys.stderr)
        return 3
    print_summary(report, print)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
        print(f"JSON report written to {args.json}")
    failures = check_expectations(scenario, report)
    for failure in failures:
        print(f"expectation not met: {failure}", file=sys.stderr)
    return 1 if failures else 0
