"""Working without a network: the service worker, the offline page, the per-role manifest and the
session details the outbox needs to replay queued writes."""
