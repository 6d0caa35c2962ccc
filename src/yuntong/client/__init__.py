"""The headless aiortc client behind ``yuntong call``: probes, tests and load tools use it."""

from yuntong.client.call import CallClient, run_call
from yuntong.client.quality import CallResult

__all__ = ["CallClient", "CallResult", "run_call"]
