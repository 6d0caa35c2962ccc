"""The tariffs pages: the price list of outside calls with a price look-up (/tariffs, every
member) and the staff page of imports and margins (/operator/tariffs). Both work through the
tariffs REST API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from yuntong.accounts.roles import STAFF_ROLES
from yuntong.web.pages import member_page, require_member

router = APIRouter(include_in_schema=False)


@router.get("/tariffs")
async def tariffs_page(request: Request) -> Response:
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    return member_page(request, member, "tariffs.html", "ui.tariffs.title")


@router.get("/operator/tariffs")
async def operator_tariffs_page(request: Request) -> Response:
    member = await require_member(request, roles=STAFF_ROLES)
    if isinstance(member, Response):
        return member
    return member_page(
        request, member, "operator_tariffs.html", "ui.optariffs.title", active="operator_tariffs"
    )
