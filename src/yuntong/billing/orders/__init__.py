"""Orders: subscribing to, changing and cancelling packages and value-added services."""
