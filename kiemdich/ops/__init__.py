"""What operators and the load balancer read: /healthz, /readyz (health.py) and /metrics (metrics.py)."""


def init_app(app) -> None:
    from . import health, metrics

    metrics.init_app(app)
    health.init_app(app)
