"""Customer notices: recorded once, shown in the app, e-mailed with retries.

Imports nothing of billing: who receives an account's notices is handed over at start-up.
"""
