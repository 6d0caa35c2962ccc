"""Collections: overdue handling, late fees, suspension and termination (dunning, lifecycle)."""
