"""The cluster's tables: the nodes that ran, and the leases of jobs that run on one node."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime

NODE_ID_LENGTH = 100


class Node(Base):
    """A process that ran as a node (``yuntong serve``, a billing worker), and when it was last
    heard: the keepalive on the database (migration 0010)."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(NODE_ID_LENGTH), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # serve | billing-worker
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobLease(Base):
    """A job that runs on one node at a time: who holds it until when, a fencing counter
    bumped at every take-over, and the last run marked done (e.g. the business day of the
    billing daily run)."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(NODE_ID_LENGTH))
    fence: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_key: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
