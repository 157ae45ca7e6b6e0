"""What every Grantflow nameko service has: a clock, health and metrics endpoints.

``/health`` also reports the outbox backlog, so operations tools (``grantflow clock
advance``, the demo) can tell when the pipeline has settled."""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from shared.clock import ClockNotSet, ClockProvider
from shared.web import api, json_response, metrics_response


class ContainerStats(DependencyProvider):
    """How many workers are running besides the one asking (for /health)."""

    def get_dependency(self, worker_ctx):
        container = self.container
        return lambda: max(0, len(container._worker_threads) - 1)


class ServiceBase:
    clock = ClockProvider()
    busy_workers = ContainerStats()

    @api("GET", "/metrics", public=True)
    def metrics(self, request):
        return metrics_response()

    @api("GET", "/health", public=True)
    def health(self, request):
        try:
            now = self.clock.now()
        except ClockNotSet as exc:
            return json_response({"service": self.name, "status": "clock_not_set",
                                  "message": str(exc)}, status=503)
        body = {"service": self.name, "status": "ok", "clock": now.isoformat(),
                "busy_workers": self.busy_workers()}
        uow = getattr(self, "uow", None)
        if uow is not None:
            body["outbox_backlog"] = uow.outbox_backlog()
        return json_response(body)
