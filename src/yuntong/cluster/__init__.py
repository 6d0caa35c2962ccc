"""Several nodes: node identity and liveness, singleton jobs, recovery of dead nodes' rows."""
