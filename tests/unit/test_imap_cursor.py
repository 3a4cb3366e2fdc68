"""The IMAP cursor's UID sets: compact text, lazy expansion, cheap appends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connectors.imap.cursor import CompactUids, Cursor, FolderState, compact, expand

uid_sets = st.frozensets(st.integers(min_value=1, max_value=400), max_size=60)


@given(uid_sets)
def test_compact_and_expand_are_inverse(uids: frozenset[int]) -> None:
    assert expand(compact(uids)) == uids


def test_compact_joins_runs() -> None:
    assert compact([7, 1, 2, 3]) == "1:3,7"
    assert compact(range(1, 37341)) == "1:37340"
    assert compact([5]) == "5"
    assert compact([]) == ""


@given(uid_sets, uid_sets)
def test_with_added_is_the_union_with_compact_text(
    known: frozenset[int], new: frozenset[int]
) -> None:
    added = CompactUids(compact(known)).with_added(new)
    assert set(added) == known | new
    assert len(added) == len(known | new)
    assert expand(added.text) == known | new


def test_appending_above_the_top_keeps_the_text_minimal() -> None:
    uids = CompactUids("1:5,9")
    assert uids.with_added([10, 11, 20]).text == "1:5,9:11,20"
    assert uids.with_added([12]).text == "1:5,9,12"
    assert CompactUids("").with_added([3, 4]).text == "3:4"
    assert uids.with_added([]) is uids


def test_a_cursor_round_trips_and_reads_counts_without_expanding() -> None:
    state = FolderState(uidvalidity=7, uidnext=40, modseq=3, uids=CompactUids("1:30,35"))
    text = Cursor({"INBOX": state}).dump()
    again = Cursor.load(text).folders["INBOX"]
    assert len(again.uids) == 31
    assert isinstance(again.uids, CompactUids) and again.uids._expanded is None
    assert Cursor({"INBOX": again}).dump() == text


@given(uid_sets, st.integers(min_value=0, max_value=410))
def test_membership_by_ranges_agrees_with_the_set(uids: frozenset[int], probe: int) -> None:
    compact_uids = CompactUids(compact(uids))
    assert (probe in compact_uids) == (probe in uids)
    assert compact_uids._expanded is None  # answered from the ranges


def test_membership_holds_for_overlapping_parts_too() -> None:
    uids = CompactUids("1:10,3:4,20")
    assert [u for u in range(25) if u in uids] == [*range(1, 11), 20]
