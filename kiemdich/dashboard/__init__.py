"""The supervisors' dashboard: figures of their area per day, checkpoint and commune, with drill-down."""
