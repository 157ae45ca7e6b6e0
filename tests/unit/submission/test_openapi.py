"""The OpenAPI document lists every route of the service, with its method."""
from services.submission.openapi import build, openapi_path, routes
from services.submission.service import SubmissionService


def test_every_route_of_the_service_is_in_the_document():
    document = build(SubmissionService)
    found = routes(SubmissionService)
    assert len(found) >= 18
    for name, route in found:
        operation = document["paths"][openapi_path(route.url)][route.method.lower()]
        assert operation["operationId"] == name


def test_path_values_become_parameters_and_errors_are_documented():
    document = build(SubmissionService)
    submit = document["paths"]["/proposals/{proposal_id}/submit"]
    assert submit["parameters"][0]["name"] == "proposal_id"
    # every route's 400/422/503, a body's 411/413, a state change's 409 (shared.openapi)
    assert set(submit["post"]["responses"]) == {"200", "400", "401", "403", "404", "409",
                                                "411", "413", "422", "503"}
    version = document["paths"]["/proposals/{proposal_id}/versions/{number}"]
    assert version["parameters"][1]["schema"] == {"type": "integer", "minimum": 0}
    create = document["paths"]["/proposals"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/ProposalCreate"}
    money = document["components"]["schemas"]["ProposalCreate"]["properties"]["requested_grant"]
    assert money["type"] == "string"
    assert "security" not in document["paths"]["/openapi.json"]["get"]
