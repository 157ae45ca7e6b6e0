"""A draft created with an Idempotency-Key gets an id derived from it (keyed with the
service's secret): a replay of a call with a seed creates the same ids, so what is ordered
or tie-broken by id (which experts an assignment picks among equals) comes out the same.
Without a key the id is random."""
from services.submission.handlers.common import new_id, request_seed

SECRET = "s" * 40


def test_the_same_person_and_key_give_the_same_id():
    first = new_id("P", request_seed(SECRET, "a@x.org", "scenario-1/create/p001", "proposal"))
    again = new_id("P", request_seed(SECRET, "A@x.org", "scenario-1/create/p001", "proposal"))
    assert first == again and first.startswith("P-") and len(first) == 14


def test_another_person_key_purpose_or_secret_gives_another_id():
    ids = {new_id("P", request_seed(secret, email, key, purpose))
           for secret, email, key, purpose in (
               (SECRET, "a@x.org", "k1", "proposal"), (SECRET, "b@x.org", "k1", "proposal"),
               (SECRET, "a@x.org", "k2", "proposal"), (SECRET, "a@x.org", "k1", "profile"),
               ("t" * 40, "a@x.org", "k1", "proposal"))}
    assert len(ids) == 5


def test_without_a_key_the_id_is_random():
    assert request_seed(SECRET, "a@x.org", None, "proposal") is None
    assert request_seed(SECRET, "a@x.org", "", "proposal") is None
    assert new_id("P") != new_id("P")
