"""Prometheus metrics (prometheus_client): requests, job outcomes and latency; queue depth read at scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "tessera_http_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=REGISTRY
)
REQUEST_SECONDS = Histogram("tessera_http_request_seconds", "API latency", ["route"], registry=REGISTRY)
JOBS = Counter("tessera_jobs", "Finished jobs by outcome", ["outcome"], registry=REGISTRY)
JOB_SECONDS = Histogram(
    "tessera_job_seconds",
    "Time from claim to completed video",
    registry=REGISTRY,
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, float("inf")),
)
MODERATION = Counter("tessera_moderation", "Moderation decisions", ["decision", "category"], registry=REGISTRY)
WEBHOOKS = Counter(
    "tessera_webhook_attempts",
    "Webhook delivery attempts by outcome (delivered, retry, failed)",
    ["outcome"],
    registry=REGISTRY,
)


class QueueCollector:
    """Queue depth by status, counted in the job store when Prometheus scrapes (so every server agrees)."""

    def __init__(self, store) -> None:
        self.store = store

    def collect(self):
        family = GaugeMetricFamily("tessera_jobs_by_status", "Jobs in the store by status", labels=["status"])
        for status, count in self.store.counts().items():
            family.add_metric([status], count)
        yield family
