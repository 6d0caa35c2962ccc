"""The customer-service desk (issue 18, CS 1.2): inboxes, agents, visitors, conversations and
the embeddable widget (docs/support.md)."""
