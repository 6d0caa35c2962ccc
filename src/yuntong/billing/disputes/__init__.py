"""Billing disputes and their state machine (VP 6)."""
