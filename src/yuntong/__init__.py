"""Yuntong (云通): the control plane for an operator's real-time communication services."""

__version__ = "0.1.0"
