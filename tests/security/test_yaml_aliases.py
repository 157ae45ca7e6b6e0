"""Issue 10, finding 3: YAML alias expansion must not stall a service.

A few hundred bytes of nested aliases stand for billions of nodes; PyYAML's safe loader
expands them, and walking the result took 20 s per 356 bytes (ten times more per level)
while the submission process answered nothing. Documents from outside are now read within
limits (size, nodes with aliases expanded, depth), and off the service's event loop."""
from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import requests

from tests.support.infra import eventually


def bomb(levels: int) -> str:
    """The classic nested-alias document: 9**levels strings in a few hundred bytes."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels + 1):
        ref = f"*l{level - 1}"
        lines.append(f"l{level}: &l{level} [{','.join([ref] * 9)}]")
    return "\n".join(lines) + "\n"


def _in_subprocess(code: str) -> subprocess.CompletedProcess:
    # a hang (today's behaviour: hours for ten levels) fails the test instead of the suite
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)


def test_a_call_document_with_nested_aliases_is_refused_naming_the_limit():
    done = _in_subprocess(
        "from shared.calls.loader import validate_call_text\n"
        "from tests.security.test_yaml_aliases import bomb\n"
        "for p in validate_call_text(bomb(10)): print(p)\n")
    assert done.returncode == 0, done.stderr
    assert "refused: the document expands to more than 20,000 nodes" in done.stdout
    assert "an alias counts as everything it repeats" in done.stdout


def test_a_scenario_with_nested_aliases_is_refused():
    done = _in_subprocess(
        "from grantflow.scenario.loader import InvalidScenario, load_scenario_text\n"
        "from tests.security.test_yaml_aliases import bomb\n"
        "try:\n    load_scenario_text(bomb(10))\n"
        "except InvalidScenario as exc:\n    print('refused:', exc)\n")
    assert done.returncode == 0, done.stderr
    assert "refused: not valid YAML" in done.stdout and "expands to more than" in done.stdout


@pytest.mark.parametrize("text, rule", [
    ("a: &a [1, *a]\n", "recursive alias"),
    ("a: " + "[" * 40 + "]" * 40 + "\n", "nests more than 32 levels deep"),
    ("a: " + "x" * 300_000 + "\n", "the document is 300,004 bytes; at most 262,144"),
])
def test_other_documents_outside_the_limits_are_refused(text, rule):
    from shared.calls.loader import validate_call_text
    problems = validate_call_text(text)
    assert len(problems) == 1 and rule in problems[0].message, problems


def test_anchors_within_the_limits_still_work():
    from shared.yamlsafe import safe_load
    assert safe_load("a: &x {k: 1}\nb: *x\n") == {"a": {"k": 1}, "b": {"k": 1}}


@pytest.mark.integration
@pytest.mark.e2e
def test_the_submission_service_refuses_the_bomb_and_stays_healthy(stack):
    stack.start("submission")
    operations = stack.api("submission")
    answers: dict = {}

    def send_bomb():
        answers["bomb"] = operations.post("/calls", data=bomb(10).encode())

    sender = threading.Thread(target=send_bomb, daemon=True)
    sender.start()
    health = []
    while sender.is_alive() and len(health) < 50:
        # each probe must answer promptly while the bomb is being read (today: none
        # answers until the process has expanded every alias)
        health.append(requests.get(stack.url("submission") + "/health", timeout=5).status_code)
    sender.join(timeout=60)
    assert not sender.is_alive(), "the bomb was never answered"
    assert set(health) <= {200}
    assert requests.get(stack.url("submission") + "/health", timeout=5).status_code == 200
    refused = answers["bomb"]
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert errors[0]["field"] == "_document"
    assert "expands to more than 20,000 nodes" in errors[0]["rule"]
    # and the service goes on working: the real call still loads
    from tests.support.submission_data import call_yaml
    eventually(lambda: operations.post("/calls", data=call_yaml().encode()).status_code
               in (200, 201), message="a valid call loads after the bomb")
