"""Per-user supplementary service settings: caller-ID (CLIP/CLIR), forwarding, barring and the
barring PIN (issue 16, "Value-added services"; migration 0019), call waiting (migration 0022).

One row per user who ever set a service; no row means every service off. The barring PIN is
kept hashed (argon2), never in clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class ServiceSettings(Base):
    __tablename__ = "supplementary_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    clip: Mapped[bool] = mapped_column(Boolean, default=False)
    # "" (not activated) | "temporary" (shown unless withheld per call) | "always" (withheld
    # unless shown per call)
    clir_mode: Mapped[str] = mapped_column(String(10), default="")
    # forwarding targets in E.164 (None: off)
    cfu: Mapped[str | None] = mapped_column(String(20))
    cfb: Mapped[str | None] = mapped_column(String(20))
    cfnry: Mapped[str | None] = mapped_column(String(20))
    cfnrc: Mapped[str | None] = mapped_column(String(20))
    cfnry_timer_s: Mapped[int] = mapped_column(Integer, default=20)
    bar_outgoing: Mapped[bool] = mapped_column(Boolean, default=False)
    bar_international: Mapped[bool] = mapped_column(Boolean, default=False)
    bar_incoming: Mapped[bool] = mapped_column(Boolean, default=False)
    bar_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # "" (off) | "blacklist" (bar these calling numbers) | "whitelist" (bar all but these)
    incoming_list_mode: Mapped[str] = mapped_column(String(10), default="")
    incoming_list: Mapped[list[str]] = mapped_column(JSON, default=list)
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    waiting: Mapped[bool] = mapped_column(Boolean, default=False)  # call waiting (TS 22.083)


# the columns of a new row: every service off
SETTINGS_OFF: dict[str, Any] = {
    "clip": False,
    "clir_mode": "",
    "cfnry_timer_s": 20,
    "bar_outgoing": False,
    "bar_international": False,
    "bar_incoming": False,
    "bar_anonymous": False,
    "incoming_list_mode": "",
    "incoming_list": [],
    "waiting": False,
}
