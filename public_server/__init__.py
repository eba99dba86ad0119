"""The public server: the small Flask app behind the customer's page (events, paid status, instalments, demo checkout, payment webhooks)."""
