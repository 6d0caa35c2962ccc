"""Imports every domain's tables so metadata (Alembic, tests) sees them all."""

from yuntong.accounts.models import AuditEvent, LoginSession, Organisation, User
from yuntong.calls.models import CallQualityReport, CallRecord
from yuntong.contacts.models import Block, Contact
from yuntong.core.db import Base

__all__ = [
    "AuditEvent",
    "Base",
    "Block",
    "CallQualityReport",
    "CallRecord",
    "Contact",
    "LoginSession",
    "Organisation",
    "User",
]
