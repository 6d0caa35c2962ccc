"""Payments and the payment provider webhook."""
