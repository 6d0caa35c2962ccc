"""Bounded integers for the HTTP API: every integer a client sends has a range.

An unbounded ``int`` reached the database as it came: PostgreSQL refused a value beyond its
column (``value out of int32 range``), SQLite one beyond 64 bits, and the client got a 500.
With these types a value out of range is a 422 with a field error, and the ranges are in the
OpenAPI document.

Use each as the whole constraint (``fee: NonNegativeFen``): bounds given again in a
``Field(ge=0)`` assigned to the field do not combine with the type's (one set is lost).

Row ids are ``INTEGER`` columns (32 bits on PostgreSQL) except the ledger's, which are
``BIGINT``; amounts of money are ``BIGINT`` fen.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

DbId = Annotated[int, Field(ge=1, le=INT32_MAX)]
"""The id of a row (an ``INTEGER`` primary key)."""

BigDbId = Annotated[int, Field(ge=1, le=INT64_MAX)]
"""The id of a row in a ``BIGINT`` key (ledger entries, statement lines)."""

Int32 = Annotated[int, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
"""Any integer stored in an ``INTEGER`` column."""

Int64 = Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX)]
"""Any integer stored in a ``BIGINT`` column."""

Fen = Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX)]
"""An amount of money in fen (``BIGINT``)."""

NonNegativeFen = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""An amount of money in fen that cannot be negative (a fee, a credit limit)."""

Seconds = Annotated[int, Field(ge=0, le=INT32_MAX)]
"""A count of seconds (an allowance)."""
