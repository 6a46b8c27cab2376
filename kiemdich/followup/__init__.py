"""Follow-up in the destination commune: arrivals, daily health checks, end of monitoring."""
