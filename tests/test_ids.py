"""Ids: ObjectId-shaped, increasing within a process, and unique across a fork."""

from __future__ import annotations

import multiprocessing
import os
import sys

import pytest

from orchestratex._ids import is_object_id, new_id


def _child_id(conn: multiprocessing.connection.Connection) -> None:
    conn.send(new_id())
    conn.close()


def test_ids_are_object_ids_and_increase_within_a_second() -> None:
    ids = [new_id() for _ in range(100)]
    assert all(is_object_id(i) for i in ids)
    assert len(set(ids)) == 100
    assert {i[8:18] for i in ids} == {ids[0][8:18]}  # one random part per process


@pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_draws_its_own_random_part() -> None:
    parent = new_id()
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_id, args=(sender,))
    child.start()
    got = receiver.recv()
    child.join(10)
    assert child.exitcode == 0
    assert is_object_id(got)
    assert got[8:18] != parent[8:18]  # the 5 random bytes: a counter shared with the parent cannot collide
    assert new_id()[8:18] == parent[8:18]  # the parent's own part is unchanged
