"""A JSON document written piece by piece is sent whole, with its length, from memory
when small and from a temporary file past 8 MB."""
import json

import pytest

from shared import web


def _body(response) -> bytes:
    return b"".join(response.response)


def test_a_small_document_is_sent_whole_with_its_length():
    response = web.json_text_response(iter(['{"items": [', '1, ', '2', '], "é": true}']))

    body = _body(response)
    assert json.loads(body) == {"items": [1, 2], "é": True}
    assert response.headers["Content-Length"] == str(len(body))
    assert response.mimetype == "application/json"


def test_a_document_past_the_memory_limit_is_spooled_to_disk(monkeypatch):
    monkeypatch.setattr(web, "_SPOOL_IN_MEMORY", 1024)
    pieces = ['{"items": ['] + [", ".join(['"x"'] * 100) + ", " for _ in range(100)] + ['1]}']

    response = web.json_text_response(iter(pieces))

    spool = response.response.file
    assert spool._rolled  # the document went to a file (SpooledTemporaryFile rolled over)
    assert len(json.loads(_body(response))["items"]) == 10_001


def test_a_failure_while_writing_is_raised_not_sent():
    def pieces():
        yield '{"items": ['
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        web.json_text_response(pieces())
