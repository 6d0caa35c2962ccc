"""REST routes for the address book and the block list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from yuntong.accounts import directory
from yuntong.accounts.auth import Principal, require_user
from yuntong.contacts import service
from yuntong.core.api_types import DbId
from yuntong.core.context import Context, get_context
from yuntong.core.errors import YuntongError

router = APIRouter(prefix="/api/v1", tags=["contacts"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
ContactId = Annotated[DbId, Path(description="The contact entry's id (ContactOut.id)")]


class ContactOut(BaseModel):
    """One entry of the user's address book."""

    id: int = Field(description="The entry's id")
    user_id: int = Field(description="The contact's user id (to call them)")
    username: str = Field(description="The contact's username")
    display_name: str = Field(description="The contact's own display name")
    name: str = Field(description="The name the owner gave the contact")
    notes: str = Field(description="The owner's notes")
    favourite: bool = Field(description="Marked as a favourite")
    blocked: bool = Field(description="The owner blocks this contact")
    status: str = Field(description="presence: online, busy, dnd or offline")


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=254, description="username, phone or e-mail")
    name: str | None = Field(
        default=None, max_length=64, description="A name of the owner's (default: theirs)"
    )
    notes: str = Field(default="", max_length=2000, description="The owner's notes")
    favourite: bool = Field(default=False, description="Mark as a favourite")


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(
        default=None, min_length=1, max_length=64, description="New name (omit: unchanged)"
    )
    notes: str | None = Field(
        default=None, max_length=2000, description="New notes (omit: unchanged)"
    )
    favourite: bool | None = Field(default=None, description="Favourite or not (omit: unchanged)")


class BlockIn(BaseModel):
    """Whom to block: exactly one of ``user_id`` or ``query``."""

    model_config = ConfigDict(extra="forbid")
    user_id: DbId | None = Field(default=None, description="The user's id")
    query: str | None = Field(
        default=None, max_length=254, description="The user's username, phone or e-mail"
    )

    @model_validator(mode="after")
    def _one_of(self) -> BlockIn:
        if (self.user_id is None) == (self.query is None):
            raise ValueError("give exactly one of user_id or query")
        return self


class BlockedOut(BaseModel):
    """A user the owner blocks (their calls and contact requests do not reach the owner)."""

    user_id: int = Field(description="Their user id")
    username: str = Field(description="Their username")
    display_name: str = Field(description="Their display name")


class Blocked(BaseModel):
    user_id: int = Field(description="The user now blocked")


class FoundUser(BaseModel):
    """An active user found by an exact username, phone or e-mail."""

    user_id: int = Field(description="Their user id (to add or call them)")
    username: str = Field(description="Their username")
    display_name: str = Field(description="Their display name")


async def _out(
    ctx: Context, views: list[service.ContactView], visible: set[int]
) -> list[ContactOut]:
    """The contacts with their presence ("offline" for those who blocked the owner)."""
    statuses = await service.presences_of(ctx, [v.user_id for v in views if v.user_id in visible])
    return [
        ContactOut(**view.__dict__, status=statuses.get(view.user_id, "offline")) for view in views
    ]


async def _visible(ctx: Context, owner_id: int) -> set[int]:
    return set(await service.visible_contact_ids(ctx, owner_id))


@router.get("/contacts", response_model=list[ContactOut])
async def list_contacts(
    ctx: Ctx,
    user: User,
    q: Annotated[
        str | None, Query(max_length=100, description="Only contacts whose names contain this")
    ] = None,
    favourite: Annotated[
        bool | None, Query(description="Only favourites (true) or only the others (false)")
    ] = None,
) -> list[ContactOut]:
    """The user's address book, each contact with their presence (offline for those who
    block the user)."""
    visible = await _visible(ctx, user.user_id)
    views = await service.list_contacts(ctx, user.user_id, q, favourite)
    return await _out(ctx, views, visible)


@router.post("/contacts", response_model=ContactOut, status_code=201)
async def add_contact(ctx: Ctx, user: User, body: ContactIn) -> ContactOut:
    """Add an active user, found by exact username, phone or e-mail, to the address book."""
    view = await service.do_add_contact(
        ctx, user.user_id, body.query.strip(), body.name, body.notes, body.favourite
    )
    return (await _out(ctx, [view], await _visible(ctx, user.user_id)))[0]


@router.patch("/contacts/{contact_id}", response_model=ContactOut)
async def update_contact(
    ctx: Ctx, user: User, contact_id: ContactId, body: ContactPatch
) -> ContactOut:
    """Rename a contact, change the notes or the favourite mark."""
    view = await service.do_update_contact(
        ctx, user.user_id, contact_id, name=body.name, notes=body.notes, favourite=body.favourite
    )
    return (await _out(ctx, [view], await _visible(ctx, user.user_id)))[0]


@router.delete("/contacts/{contact_id}", status_code=204)
async def delete_contact(ctx: Ctx, user: User, contact_id: ContactId) -> Response:
    """Remove a contact from the address book."""
    await service.do_delete_contact(ctx, user.user_id, contact_id)
    return Response(status_code=204)


@router.get("/blocks", response_model=list[BlockedOut])
async def list_blocks(ctx: Ctx, user: User) -> list[BlockedOut]:
    """The users the user blocks."""
    return [BlockedOut.model_validate(b) for b in await service.list_blocked(ctx, user.user_id)]


@router.post("/blocks", status_code=201, response_model=Blocked)
async def block(ctx: Ctx, user: User, body: BlockIn) -> dict[str, int]:
    """Block a user: their calls are refused and they see the user offline."""
    blocked = await service.do_block(ctx, user.user_id, query=body.query, user_id=body.user_id)
    return {"user_id": blocked}


@router.delete("/blocks/{user_id}", status_code=204)
async def unblock(
    ctx: Ctx,
    user: User,
    user_id: Annotated[DbId, Path(description="The blocked user's id")],
) -> Response:
    """Unblock a user."""
    await service.do_unblock(ctx, user.user_id, user_id)
    return Response(status_code=204)


@router.get("/users/lookup", response_model=FoundUser)
async def lookup(
    ctx: Ctx,
    user: User,
    q: Annotated[
        str, Query(min_length=1, max_length=254, description="Exact username, phone or e-mail")
    ],
) -> dict[str, object]:
    """Find an active user by exact username, phone or e-mail (to add or call them)."""
    found = await directory.lookup_active_user(ctx, q.strip(), by=user.user_id)
    if found is None:
        raise YuntongError("user_not_found")
    return {"user_id": found.id, "username": found.username, "display_name": found.display_name}
