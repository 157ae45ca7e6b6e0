"""Which call document may replace the published one (domain, no database)."""
import dataclasses
from datetime import timedelta

import pytest

from services.submission.domain.call_versions import Published, decide_load
from services.submission.domain.errors import CallVersionRefused

from .factories import CALL, with_deadline

V1 = Published(CALL, "hash-1")


def version(n: int, call=CALL):
    return dataclasses.replace(call, version=n)


def test_the_first_version_is_published_and_a_reload_is_a_no_op():
    assert decide_load(CALL, "hash-1", None) is True
    assert decide_load(CALL, "hash-1", V1) is False


def test_the_same_version_with_other_content_is_refused():
    with pytest.raises(CallVersionRefused, match="already published with other content"):
        decide_load(CALL, "hash-2", V1)


def test_an_older_version_is_refused():
    with pytest.raises(CallVersionRefused, match="older"):
        decide_load(version(1), "h", Published(version(3), "h3"))


def test_a_newer_version_may_move_the_deadline_until_a_topic_closed():
    later = version(2, with_deadline(CALL, CALL.deadline + timedelta(hours=3)))
    assert decide_load(later, "h2", V1) is True
    with pytest.raises(CallVersionRefused, match="cannot move it"):
        decide_load(later, "h2", V1, deadline_closed=True)
    assert decide_load(version(2), "h2", V1, deadline_closed=True) is True


def test_a_topic_with_proposals_cannot_be_removed():
    fewer = version(2, dataclasses.replace(CALL, topics=CALL.topics[:4]))
    assert decide_load(fewer, "h2", V1, topics_in_use={CALL.topics[0].id}) is True
    with pytest.raises(CallVersionRefused, match="AMIF-2018-AG-INTE-5"):
        decide_load(fewer, "h2", V1, topics_in_use={"AMIF-2018-AG-INTE-5"})
