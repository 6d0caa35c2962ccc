"""The numbers pages: customers choose and keep numbers (/numbers); staff manage the inventory
(/operator/numbers). Both pages work through the numbers REST API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from yuntong.accounts.roles import STAFF_ROLES
from yuntong.numbers.models import NumberState
from yuntong.numbers.patterns import PATTERNS
from yuntong.web.pages import member_page, require_member

router = APIRouter(include_in_schema=False)


@router.get("/numbers")
async def numbers_page(request: Request) -> Response:
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    return member_page(
        request, member, "numbers.html", "ui.numbers.title", active="numbers", patterns=PATTERNS
    )


@router.get("/operator/numbers")
async def operator_numbers_page(request: Request) -> Response:
    member = await require_member(request, roles=STAFF_ROLES)
    if isinstance(member, Response):
        return member
    return member_page(
        request,
        member,
        "operator_numbers.html",
        "ui.opnumbers.title",
        active="operator_numbers",
        patterns=PATTERNS,
        states=[s.value for s in NumberState],
    )
