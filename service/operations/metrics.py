"""Prometheus metrics, served on a bind of their own (AVTAL_METRICS_BIND=host:port), never
on the public port: request latency by route, conversion time and failures per LibreOffice
host, queue depth, job failures, and the link events of the audit trail.

Each process keeps its own counts (run one gunicorn worker per web host, with threads,
or give each its own bind); link events are counted in the database, so they are the
cluster's."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily
from sqlalchemy import func, select

from ..models import AuditEvent

# The methods the service answers; any other is refused with 405 and counted as "OTHER",
# so a client cannot add a series per invented method
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LINK_EVENTS = ("link_issued", "link_opened", "confirmed", "declined", "revoked", "reminder_sent")


class _LinkEvents:
    """Counts of link events in the audit trail, read at each scrape."""

    def __init__(self, db):
        self.db = db

    def collect(self):
        family = CounterMetricFamily("avtal_link_events", "Link events in the audit trail", labels=["event"])
        with self.db.session() as session:
            counts = dict(
                session.execute(
                    select(AuditEvent.event, func.count(AuditEvent.id))
                    .where(AuditEvent.event.in_(LINK_EVENTS))
                    .group_by(AuditEvent.event)
                ).all()
            )
        for event in LINK_EVENTS:
            family.add_metric([event], counts.get(event, 0))
        yield family


class Metrics:
    def __init__(self, app):
        self.registry = registry = CollectorRegistry()
        self.requests = Histogram(
            "avtal_request_seconds", "Time to answer a request", ["route", "method"], registry=registry
        )
        self.conversions = Histogram(
            "avtal_conversion_seconds", "Time of a DOCX to PDF conversion", ["host"], registry=registry
        )
        self.conversion_failures = Counter(
            "avtal_conversion_failures", "Conversions that failed on a host", ["host"], registry=registry
        )
        self.job_failures = Counter("avtal_job_failures", "Background jobs that raised", ["job"], registry=registry)
        queue = Gauge("avtal_queue_depth", "Jobs waiting in the queue", registry=registry)
        queue.set_function(app.extensions["jobs"].pending)
        registry.register(_LinkEvents(app.extensions["db"]))

    def request(self, route, method, seconds):
        self.requests.labels(route, method_label(method)).observe(seconds)

    def conversion(self, host, seconds, ok):
        self.conversions.labels(host).observe(seconds)
        if not ok:
            self.conversion_failures.labels(host).inc()

    def job_failed(self, _signal, task, _exc=None):
        self.job_failures.labels(task.name).inc()


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"


def init_app(app):
    from huey.signals import SIGNAL_ERROR

    metrics = Metrics(app)
    app.extensions["metrics"] = metrics
    app.extensions["office"].on_conversion = metrics.conversion
    app.extensions["jobs"].huey.signal(SIGNAL_ERROR)(metrics.job_failed)


def serve(app):
    """Start the metrics endpoint in a thread if AVTAL_METRICS_BIND is set; returns the server."""
    bind = app.config["METRICS_BIND"]
    if not bind:
        return None
    host, _, port = bind.rpartition(":")
    server, _thread = start_http_server(
        int(port), addr=host or "127.0.0.1", registry=app.extensions["metrics"].registry
    )
    return server
