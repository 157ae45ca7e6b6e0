"""What every Grantflow nameko service has: a clock, health and metrics endpoints.

``/health`` also reports the outbox backlog, so operations tools (``grantflow clock
advance``, the demo) can tell when the pipeline has settled."""
from __future__ import annotations

import os

from marshmallow import Schema, fields
from nameko.extensions import DependencyProvider

from shared import openapi
from shared.clock import ClockNotSet, ClockProvider
from shared.config import INSTANCE_ENV
from shared.openapi import doc
from shared.web import api, json_response, metrics_response


class TickedSchema(Schema):
    service = fields.String(required=True)
    ticked_at = fields.String(required=True)
    worked = fields.Integer(required=True)


class ContainerStats(DependencyProvider):
    """How much work is in hand besides the request asking (for /health): running workers,
    and messages taken off the broker whose worker has not started yet."""

    def get_dependency(self, worker_ctx):
        container = self.container

        def busy() -> int:
            receiving = sum(1 for name in container._managed_threads.values()
                            if name and "handle_message" in name)
            # messages held for a batch are received (unacked) but in no worker yet: a
            # replay must not take the pipeline for settled while they wait
            batching = sum(len(getattr(entrypoint, "_pending", None) or ())
                           for entrypoint in container.entrypoints)
            return max(0, len(container._worker_threads) - 1) + receiving + batching
        return busy


class ServiceBase:
    clock = ClockProvider()
    busy_workers = ContainerStats()

    @api("GET", "/metrics", public=True)
    @doc("Prometheus metrics (text exposition format)", response="text")
    def metrics(self, request):
        return metrics_response()

    @api("GET", "/openapi.json", public=True)
    @doc("This document (OpenAPI 3)", response="object")
    def openapi_document(self, request):
        return json_response(openapi.document(type(self)))

    @api("POST", "/clock/tick", roles=("operations",))
    @doc("Run now what this service's timers do with the (simulated) clock",
         response=TickedSchema)
    def clock_tick(self, request, principal):
        """Do now what this service's timers do with the clock. The timetable driver calls
        it right after moving the simulated clock, so a replay need not wait for timers."""
        worked = self.on_clock_tick()
        return json_response({"service": self.name, "ticked_at": self.clock.now().isoformat(),
                              "worked": int(worked or 0)})

    def health_details(self) -> dict:
        """More fields for ``/health`` (e.g. notifications' delivery backlog and SMTP
        state, which replays wait on); none by default."""
        return {}

    def on_clock_tick(self) -> int:
        """Services with clock-driven timers override this to run them; returns how much
        work was done (0: nothing was due)."""
        return 0

    @api("GET", "/health", public=True)
    @doc("Alive and ready: the clock, busy workers, the outbox backlog", response="object",
         errors=(503,))
    def health(self, request):
        try:
            now = self.clock.now()
        except ClockNotSet as exc:
            return json_response({"service": self.name, "status": "clock_not_set",
                                  "message": str(exc)}, status=503)
        body = {"service": self.name, "status": "ok", "clock": now.isoformat(),
                "busy_workers": self.busy_workers()}
        instance = os.environ.get(INSTANCE_ENV)
        if instance:
            body["instance"] = instance
        uow = getattr(self, "uow", None)
        if uow is not None:
            body["outbox_backlog"] = uow.outbox_backlog()
        body.update(self.health_details())
        return json_response(body)
