"""The headless aiortc client behind ``yuntong call``: probes, tests and load tools use it."""

from yuntong.client.call import CallClient, CallResult, run_call

__all__ = ["CallClient", "CallResult", "run_call"]
