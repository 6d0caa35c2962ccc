"""``python -m yuntong``: the command line (how the server starts its billing worker)."""

from yuntong.cli import app

app()
