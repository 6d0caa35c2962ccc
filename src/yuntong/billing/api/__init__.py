"""Billing REST routes (thin: validate, check access, call one do_*)."""
