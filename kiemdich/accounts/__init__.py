"""Accounts: sign-in, roles and scopes, and the admin pages that issue accounts."""
