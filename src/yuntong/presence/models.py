"""Do-not-disturb schedules ("quiet hours") and the user's pause of them (issue 16,
"Do-not-disturb with schedules"; migration 0021). The manual switch stays on the user's row
(``users.dnd``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class DndSchedule(Base):
    """A window of local time, on the days it names, in which the user is not disturbed."""

    __tablename__ = "dnd_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(40), default="")
    # every_day | workdays | rest_days | weekdays (presence/windows.py DAYS)
    days: Mapped[str] = mapped_column(String(10))
    # with days = weekdays: bit d-1 set for ISO weekday d (1 Monday … 7 Sunday); else 0
    weekdays: Mapped[int] = mapped_column(Integer, default=0)
    # minutes after local midnight in the operator's time zone; end <= start: the next day's
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DndPause(Base):
    """The user switched do-not-disturb off inside a window: schedules are ignored until
    ``until`` (the end of that window)."""

    __tablename__ = "dnd_pauses"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
