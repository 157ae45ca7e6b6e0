"""Issue 10, finding 7 on the fuzzing side: every service serves an OpenAPI document that
lists all its routes, and Schemathesis, driven by those documents with real tokens of the
roles each route allows, a fixed seed and a bounded number of examples, gets no answer
>= 500 and no answer its document does not describe (status, content type, schema),
while the service stays healthy. One shared stack serves all five services."""
from __future__ import annotations

import importlib

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from shared.config import SERVICE_CLASSES, SERVICES
from shared.openapi import document, openapi_path, routes, undocumented

#: examples per operation: enough to reach every documented status of most routes, small
#: enough to keep the five services' run to about a minute on a loaded 2-core machine
EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
#: who calls a route of each role (the applicant has a draft: tests/security/test_http_input)
EMAILS = {"applicant": "ghent@example.eu", "evaluator": "expert1@pool.example.org",
          "operations": "ops@grantflow.test"}


def service_class(service: str):
    module, _, name = SERVICE_CLASSES[service].partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_is_documented(service):
    cls = service_class(service)
    assert undocumented(cls) == []
    paths = document(cls)["paths"]
    for name, route in routes(cls):
        assert paths[openapi_path(route.url)][route.method.lower()]["operationId"] == name


@pytest.mark.integration
@pytest.mark.parametrize("service", SERVICES)
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(shared_stack, service):
    url = shared_stack.url(service)
    served = requests.get(f"{url}/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == document(service_class(service))
    schema = schemathesis.openapi.from_dict(served.json())
    roles = {(route.method.upper(), openapi_path(route.url)): route
             for _, route in routes(service_class(service))}
    tokens = {role: shared_stack.api(service, role, email).headers["Authorization"]
              for role, email in EMAILS.items()}

    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        route = roles[(operation.method.upper(), operation.path)]
        role = route.roles[0] if route.roles else "operations"
        headers = {} if route.public else {"Authorization": tokens[role]}

        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case):
            case.call_and_validate(base_url=url, headers=headers, checks=CHECKS, timeout=30)

        try:
            call()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures
            failures.append(f"{operation.method.upper()} {operation.path}: "
                            f"{str(exc)[:1500]}")
        health = requests.get(f"{url}/health", timeout=30)
        assert health.status_code == 200, f"{service} unhealthy after {operation.path}"
    print("\n\n".join(failures))  # shown by pytest when the test fails
    assert not failures, f"{len(failures)} operation(s) of {service} failed: " + \
        ", ".join(f.split(":")[0] for f in failures)
