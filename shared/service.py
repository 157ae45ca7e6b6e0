"""What every Grantflow nameko service has: a clock, health and metrics endpoints."""
from __future__ import annotations

from shared.clock import ClockProvider
from shared.web import api, json_response, metrics_response


class ServiceBase:
    clock = ClockProvider()

    @api("GET", "/metrics", public=True)
    def metrics(self, request):
        return metrics_response()

    @api("GET", "/health", public=True)
    def health(self, request):
        return json_response({"service": self.name, "status": "ok",
                              "clock": self.clock.now().isoformat()})
