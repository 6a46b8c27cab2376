"""Personal data protection (Luật 91/2025/QH15): masked IDs, audited reveals, retention, data-subject requests."""
