"""Prometheus metrics at /metrics, readable only from the operator's networks.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR to an empty folder before it
starts (deploy/gunicorn.conf.py empties it and marks dead workers): each worker then writes its
counts there and any worker's /metrics adds them all up. Without it, each process counts alone.
"""
import ipaddress
import os
import time

from flask import Blueprint, Response, abort, current_app, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest,
                               multiprocess)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session, object_session

bp = Blueprint("metrics", __name__)

REQUESTS = Counter("kiemdich_http_requests_total", "HTTP requests answered, per endpoint, method and status.",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("kiemdich_http_request_duration_seconds", "Time to answer a request, per endpoint.",
                    ["endpoint", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
OUTBOX = Counter("kiemdich_outbox_writes_total",
                 "Writes sent from a phone's offline outbox, per endpoint and outcome "
                 "(created, replay = already recorded from the same UUID, already, or the HTTP status).",
                 ["endpoint", "outcome"])
PASSAGES = Counter("kiemdich_passages_written_total", "Passages committed, per kind.", ["kind"])
RATELIMIT_FALLBACKS = Counter("kiemdich_ratelimit_fallbacks_total",
                              "Switches of the rate limiter to per-process memory because Redis did not answer.")


def _start_timer():
    g._metrics_start = time.perf_counter()


def _count(response):
    endpoint = request.endpoint or "none"  # unmatched URLs share one label: no unbounded label values
    method = request.method
    REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
    start = g.get("_metrics_start")
    if start is not None:
        LATENCY.labels(endpoint, method).observe(time.perf_counter() - start)
    if request.headers.get("X-Outbox") == "1":
        OUTBOX.labels(endpoint, response.headers.get("X-Outbox-Status") or str(response.status_code)).inc()
    return response


# Passages: counted when their transaction commits, not when inserted (a savepoint or a whole
# transaction may still roll back).
def _passage_inserted(_mapper, _connection, target):
    session = object_session(target)
    if session is not None:
        session.info.setdefault("kiemdich_new_passages", []).append(target)


def passages_inserted(session, kind: str, count: int = 1) -> None:
    """Passages written by a Core INSERT (no mapper event fires): counted once the session commits."""
    session.info.setdefault("kiemdich_core_passages", []).append((kind, count))


def _session_committed(session):
    for passage in session.info.pop("kiemdich_new_passages", []):
        if not inspect(passage).transient:  # inserted in a savepoint that was rolled back
            PASSAGES.labels(passage.kind or "staff").inc()
    for kind, count in session.info.pop("kiemdich_core_passages", []):
        PASSAGES.labels(kind).inc(count)


def _session_rolled_back(session):
    session.info.pop("kiemdich_new_passages", None)
    session.info.pop("kiemdich_core_passages", None)


class _ImportBatches:
    """Import jobs by state, read from the database at each scrape (the jobs may run in any
    process, a thread or a task queue, and their state is on the batch row)."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from ..extensions import db
        from ..models import ImportBatch

        family = GaugeMetricFamily("kiemdich_import_batches", "Import batches, per state.", labels=["status"])
        with self.app.app_context():
            try:
                rows = db.session.execute(select(ImportBatch.status, func.count())
                                          .group_by(ImportBatch.status)).all()
            finally:
                db.session.remove()
        for status, count in rows:
            family.add_metric([status], count)
        yield family


def _allowed(address: str, networks: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for item in networks.split(","):
        item = item.strip()
        if item and ip in ipaddress.ip_network(item, strict=False):
            return True
    return False


@bp.get("/metrics")
def metrics():
    """The Prometheus text format; 404 to anyone outside KIEMDICH_METRICS_NETWORKS."""
    if not _allowed(request.remote_addr or "", current_app.config["KIEMDICH_METRICS_NETWORKS"]):
        abort(404)
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (REQUESTS, LATENCY, OUTBOX, PASSAGES, RATELIMIT_FALLBACKS):
            registry.register(collector)
    registry.register(_ImportBatches(current_app._get_current_object()))
    response = Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


_listening = False


def init_app(app) -> None:
    global _listening
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)  # before the limiter's check
    app.after_request(_count)
    app.register_blueprint(bp)
    if not _listening:  # once per process: the models and Session class are shared by every app
        from ..models import Passage

        event.listen(Passage, "after_insert", _passage_inserted)
        event.listen(Session, "after_commit", _session_committed)
        event.listen(Session, "after_rollback", _session_rolled_back)
        _listening = True
