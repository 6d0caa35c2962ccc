"""Every piece of node state is declared once, said what kind it is, and built with the context."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from yuntong.config import Settings
from yuntong.core.context import Piece, Slot, new_context
from yuntong.services import PIECES, build_context

SRC = Path(__file__).resolve().parents[3] / "src" / "yuntong"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "var", f"sqlite+aiosqlite:///{tmp_path / 'y.db'}")


def test_every_piece_is_listed_once_with_its_kind_and_what_it_holds() -> None:
    names = [piece.name for piece in PIECES]
    assert len(names) == len(set(names))
    for piece in PIECES:
        assert piece.kind in ("per-node cache", "node-owned live state", "shared state")
        assert len(piece.doc) > 20, piece


def test_every_declared_piece_is_listed() -> None:
    declared = sum(
        path.read_text().count(" = Piece(")
        for path in SRC.rglob("*.py")
        if "Piece(" in path.read_text()
    )
    assert declared == len(PIECES)


def test_a_context_has_every_piece_built_and_nothing_is_made_on_first_use(
    settings: Settings,
) -> None:
    ctx = build_context(settings)
    assert set(ctx.services.pieces) == set(PIECES)
    bare = new_context(settings)
    with pytest.raises(LookupError, match="was not built"):
        bare.services.get(PIECES[0])


def test_a_piece_cannot_be_built_twice(settings: Settings) -> None:
    ctx = new_context(settings)
    piece = Piece("test.slot", "per-node cache", lambda ctx: Slot[int](), "a slot for this test")
    ctx.services.build(ctx, [piece])
    with pytest.raises(ValueError, match="declared twice"):
        ctx.services.build(ctx, [piece])


def test_no_state_is_kept_in_a_dict_of_string_keys() -> None:
    offenders = [str(p) for p in SRC.rglob("*.py") if "ctx.extras" in p.read_text()]
    assert offenders == []
