"""Service-level credits: operator incidents and the credits they give (uses billing)."""
