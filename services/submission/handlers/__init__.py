"""Handlers of the submission service: one function per command, query or event.

- :mod:`.calls`: loading call versions; calls, manifests and timetables as read models
- :mod:`.proposals`: drafts, edits, parts, (re)submission, withdrawal
- :mod:`.timetable`: the milestone driver (closing topics, screening)
- :mod:`.events`: events consumed from other services
- :mod:`.partners`: partner profiles of a topic (publish, search, edit, withdraw)
- :mod:`.questions`: questions and answers of a topic (ask, answer, publish)
"""
from services.submission.handlers.calls import (call_timetable, get_call, list_calls,
                                                load_call, manifest)
from services.submission.handlers.events import on_ranking_published
from services.submission.handlers.proposals import (DEFAULT_PART_LIMIT, create, get,
                                                    listing, part_content, put_part,
                                                    remove_part, submit, update, version,
                                                    withdraw)
from services.submission.handlers.timetable import tick as tick_timetable

__all__ = ["get_call", "list_calls", "load_call", "manifest", "call_timetable",
           "on_ranking_published", "DEFAULT_PART_LIMIT", "create", "get", "listing",
           "part_content", "put_part", "remove_part", "submit", "update", "version",
           "withdraw", "tick_timetable"]
