"""Handlers of the operations service: events into projections (:mod:`.events`), queries
over them (:mod:`.queries`), the page's plots (:mod:`.plots`), the dead-letter queue
(:mod:`.dead_letters`)."""
from services.operations.handlers.dead_letters import list_dead_letters, replay
from services.operations.handlers.events import (lock_calls, on_event, on_events,
                                                 rebuild, record)
from services.operations.handlers.plots import plot_svg, plots
from services.operations.handlers.queries import (REPORT_PAGE, call_proposals_json, list_calls,
                                                  loads, overview, proposal, proposal_timeline,
                                                  refresh_state_gauge, report_json)

__all__ = ["REPORT_PAGE", "call_proposals_json", "list_calls", "list_dead_letters", "lock_calls",
           "loads", "on_event", "on_events", "overview", "plot_svg", "plots", "proposal",
           "proposal_timeline", "rebuild", "record", "refresh_state_gauge", "replay", "report_json"]
