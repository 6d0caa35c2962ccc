"""Packages and price versions, tariff arithmetic and usage types, billing cycles."""
