"""The strings of the web pages and their scripts (keys ``ui.*``), one module per page area."""
