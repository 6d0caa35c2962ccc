"""Billing accounts, rents, usage records, rating into the ledger, credit control."""
