"""Cycle close, first and final statements, and their documents (PDF, CSV)."""
