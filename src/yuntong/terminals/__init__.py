"""Terminals delivered to customers and their warranty (uses billing accounts)."""
