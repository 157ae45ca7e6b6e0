"""Handlers of the notifications service: one module per kind of work.

- :mod:`.events`: what each integration event causes (``consume`` for a consumer's batch,
  ``on_events`` for a batch in a transaction, ``on_event`` for one);
- :mod:`.schedule`: reminders and the daily digest, on the service clock;
- :mod:`.delivery`: the delivery log: queue once, send over SMTP with retries;
- :mod:`.queries`: the HTTP API's reads and the resend command.
"""
from services.notifications.handlers.delivery import deliver_all_due, dispatch_due, queue
from services.notifications.handlers.events import (CallNotKnownYet, consume, lock_calls,
                                                    on_event, on_events)
from services.notifications.handlers.queries import (delivery_health, get_notification,
                                                     letter_pdf, letters_of_call,
                                                     list_notifications, resend)
from services.notifications.handlers.schedule import send_digests, send_reminders

__all__ = ["deliver_all_due", "dispatch_due", "queue", "CallNotKnownYet", "consume",
           "lock_calls", "on_event", "on_events", "delivery_health", "get_notification",
           "letter_pdf", "letters_of_call", "list_notifications", "resend", "send_digests",
           "send_reminders"]
