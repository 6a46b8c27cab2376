"""The checkpoint's scan screen: verdict on a personal QR, passage confirmation (idempotent,
offline-first through the outbox), pending self check-ins and today's list."""
