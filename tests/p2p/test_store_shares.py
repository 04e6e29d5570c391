"""How nodes that miss an image together split the store reads: groups dealt in turn, helpers from the ends."""

from __future__ import annotations

import pytest

from glimpse.p2p.filler import shares


@pytest.mark.parametrize(("pieces", "nodes", "group"), [(800, 8, 8), (801, 8, 8), (7, 3, 1), (5, 8, 2), (1, 1, 8)])
def test_every_piece_is_read_first_by_exactly_one_node(pieces: int, nodes: int, group: int) -> None:
    owners: dict[int, int] = {}
    for rank in range(nodes):
        own, rest = shares(pieces, nodes, rank, group)
        assert own == sorted(own)  # a node reads its share in image order
        assert sorted(own + rest) == list(range(pieces))  # and may help with every other piece
        for piece in own:
            assert piece not in owners
            owners[piece] = rank
    assert sorted(owners) == list(range(pieces))


def test_groups_are_dealt_in_turn_so_the_start_of_the_image_comes_from_every_node() -> None:
    own = [shares(64, 4, rank, 4)[0] for rank in range(4)]
    assert own[0][:8] == [0, 1, 2, 3, 16, 17, 18, 19]
    assert own[3][:4] == [12, 13, 14, 15]
    # the first 16 pieces are read by four nodes at once, a group each
    assert {rank for rank in range(4) for piece in own[rank] if piece < 16} == {0, 1, 2, 3}


def test_a_helper_takes_the_next_share_from_its_end() -> None:
    _own, rest = shares(16, 4, 1, 2)
    assert rest[:4] == [13, 12, 5, 4]  # rank 2's share (4, 5, 12, 13) from its end, then rank 3's
    assert rest[4:8] == [15, 14, 7, 6]
