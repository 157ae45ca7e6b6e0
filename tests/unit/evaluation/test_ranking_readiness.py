"""The indexed look a completion takes before reading its whole topic
(``repository.any_blocking_ranking``) says "blocked" only when the domain says so
(``ProposalState``), and for every state the domain blocks on, once not completed."""
import itertools
from datetime import datetime, timezone

import pytest

from services.evaluation.adapters import repository as repo
from services.evaluation.adapters.tables import proposals
from services.evaluation.domain.planning import ProposalState, topic_progress
from tests.support.uow import UowFactory

AT = datetime(2019, 3, 1, tzinfo=timezone.utc)
STATES = list(itertools.product([False, True], [False, True], [None, False, True],
                                [False, True], [False, True]))


@pytest.fixture
def factory(tmp_path):
    made = UowFactory("services.evaluation:migrations", tmp_path / "ev.sqlite", "evaluation")
    yield made
    made.engine.dispose()


@pytest.mark.parametrize("in_manifest,screened,eligible,withdrawn,completed", STATES)
def test_the_indexed_look_agrees_with_the_domain(factory, in_manifest, screened, eligible,
                                                 withdrawn, completed):
    with factory() as uow:
        uow.session.execute(proposals.insert().values(
            proposal_id="P-1", call_id="C", topic_id="T", in_manifest=in_manifest,
            screened=screened, eligible=eligible, withdrawn_at=AT if withdrawn else None,
            completed_at=AT if completed else None))
        uow.commit()
    state = ProposalState("P-1", in_manifest, screened, bool(eligible), withdrawn, completed)
    domain_blocks = not topic_progress(True, [state]).complete

    with factory() as uow:
        looked = repo.any_blocking_ranking(uow, "C", "T")

    if looked:
        assert domain_blocks  # never an early "no" the domain would not give
    if domain_blocks and not completed:
        assert looked  # every open blocker is found by the look
    with factory() as uow:  # another topic's proposals do not count
        assert not repo.any_blocking_ranking(uow, "C", "OTHER")


def test_the_sweepers_look_at_topics_leaves_their_rankings_unread(factory):
    from services.evaluation.adapters.tables import topics
    with factory() as uow:
        uow.session.execute(topics.insert().values(call_id="C", topic_id="T",
                                                   ranking={"main": ["big"]}))
        uow.commit()
    with factory() as uow:
        [narrow] = repo.topic_rows(uow, "C", with_ranking=False)
        [whole] = repo.topic_rows(uow, "C")
    assert "ranking" not in narrow._fields and whole.ranking == {"main": ["big"]}
