"""Handlers of the grants service: one function per command, event and tick.

- :mod:`.events`: integration events consumed (through ``UnitOfWork.consume``);
- :mod:`.commands`: the coordinator's and the authority's HTTP commands;
- :mod:`.queries`: reads; :mod:`.timing`: TTI/TTG breaches, metrics and report;
- :mod:`.ticks`: the clock tick; :mod:`.flow`: steps they share (invitation, reserve chain).
"""
from services.grants.handlers.commands import (confirm_data, decline,  # noqa: F401
                                               sign_by_authority, sign_by_coordinator)
from services.grants.handlers.events import (RESULT_LETTER, on_call_published,  # noqa: F401
                                             on_deadline_closed,
                                             on_notification_delivered,
                                             on_proposal_withdrawn, on_ranking_published,
                                             on_stage_reached, record_deliveries)
from services.grants.handlers.queries import get_grant, list_grants, payments  # noqa: F401
from services.grants.handlers.ticks import tick  # noqa: F401
from services.grants.handlers.timing import observe, timing_report  # noqa: F401
