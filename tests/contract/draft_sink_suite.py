"""The DraftSink contract: drafts are created once per key and withdrawn only untouched.

How to plug a connector in
--------------------------
Subclass `DraftSinkContract` and override the `harness` fixture so it returns
an object with these methods (the hook interface; names are stable):

    open_sink() -> DraftSink
        A new DraftSink over the harness's account (call it again for a
        "restarted daemon"; it must find what an earlier instance wrote).

    edit_draft(ref: DraftRef, body: str) -> None
        Do what a mail client does when the user edits and saves the draft
        (rewrite it with the new body; a new UID or file name is allowed).

    delete_draft(ref: DraftRef) -> None
        The user deletes the draft unsent.

    count_drafts() -> int
        How many messages the Drafts folder holds now.

Set `declaration` to the connector's registry entry (`connectors.base.MailConnector`):
a connector that does not declare `Capability.DRAFTS` (a read-only source) has
every test here skipped instead of failing.
"""

from __future__ import annotations

from typing import Protocol

import pytest

from connectors.base import Capability, DraftSink, MailConnector
from connectors.model import Address, DraftRef, DraftSpec


class DraftHarness(Protocol):
    def open_sink(self) -> DraftSink: ...

    def edit_draft(self, ref: DraftRef, body: str) -> None: ...

    def delete_draft(self, ref: DraftRef) -> None: ...

    def count_drafts(self) -> int: ...


def make_spec(key: str = "seq42.1", **overrides: object) -> DraftSpec:
    fields: dict[str, object] = {
        "key": key,
        "message_id": f"gw.{key}@ghostwatch.invalid",
        "sender": Address("li.lei@example.com", "李雷"),
        "to": (Address("wang.fang@example.org", "Wang Fang"),),
        "subject": "Re: Senior Python role",
        "body": "Hi Fang,\n\njust checking in: is the role still of interest?\n\nLi Lei\n",
        "in_reply_to": "orig@example.com",
        "references": ("orig@example.com",),
    }
    fields.update(overrides)
    return DraftSpec(**fields)  # type: ignore[arg-type]


class DraftSinkContract:
    """Abstract: subclasses override the `harness` fixture (see module docstring)."""

    declaration: MailConnector | None = None  # None: a fake outside the registry

    @pytest.fixture(autouse=True)
    def _drafts_declared(self) -> None:
        if self.declaration is not None and not self.declaration.can(Capability.DRAFTS):
            pytest.skip("the connector declares no drafts (read-only)")

    @pytest.fixture
    def harness(self) -> DraftHarness:
        raise NotImplementedError("a connector's contract test must provide `harness`")

    @pytest.fixture
    def sink(self, harness: DraftHarness) -> DraftSink:
        return harness.open_sink()

    def test_is_a_draft_sink(self, sink: DraftSink) -> None:
        assert isinstance(sink, DraftSink)

    def test_find_before_create_is_none(self, sink: DraftSink) -> None:
        assert sink.find_draft("seq42.1") is None

    def test_create_then_find_by_key(self, harness: DraftHarness, sink: DraftSink) -> None:
        made = sink.create_draft(make_spec())
        assert made.key == "seq42.1" and made.ref and made.content_hash
        assert sink.find_draft("seq42.1") == made
        assert harness.open_sink().find_draft("seq42.1") == made
        assert sink.find_draft("seq42.2") is None
        assert harness.count_drafts() == 1

    def test_create_twice_makes_one_draft(self, harness: DraftHarness, sink: DraftSink) -> None:
        first = sink.create_draft(make_spec())
        again = sink.create_draft(make_spec(body="a different rendering"))
        after_restart = harness.open_sink().create_draft(make_spec())
        assert first == again == after_restart
        assert harness.count_drafts() == 1

    def test_keys_are_independent(self, harness: DraftHarness, sink: DraftSink) -> None:
        one = sink.create_draft(make_spec("seq1.1"))
        two = sink.create_draft(make_spec("seq1.2"))
        assert one.ref != two.ref
        assert harness.count_drafts() == 2
        assert sink.withdraw_draft(one) is True
        assert sink.find_draft("seq1.2") == two

    def test_untouched_draft_is_withdrawn(self, harness: DraftHarness, sink: DraftSink) -> None:
        made = sink.create_draft(make_spec())
        assert sink.draft_state(made) == "untouched"
        assert sink.withdraw_draft(made) is True
        assert sink.draft_state(made) == "gone"
        assert sink.find_draft("seq42.1") is None
        assert harness.count_drafts() == 0
        assert sink.withdraw_draft(made) is False

    def test_edited_draft_is_kept(self, harness: DraftHarness, sink: DraftSink) -> None:
        made = sink.create_draft(make_spec())
        harness.edit_draft(made, "Hi Fang, I rewrote this myself.\n")
        assert sink.draft_state(made) == "edited"
        assert sink.withdraw_draft(made) is False
        assert harness.count_drafts() == 1

    def test_deleted_draft_is_gone(self, harness: DraftHarness, sink: DraftSink) -> None:
        made = sink.create_draft(make_spec())
        harness.delete_draft(made)
        assert sink.draft_state(made) == "gone"
        assert sink.withdraw_draft(made) is False

    def test_hostile_names_and_long_subjects_are_written(
        self, harness: DraftHarness, sink: DraftSink
    ) -> None:
        spec = make_spec(
            to=(Address("wang.fang@example.org", "Fang\r\nBcc: evil@example.net"),),
            subject="Re: " + "很长的主题 long subject " * 100,
        )
        made = sink.create_draft(spec)
        assert sink.find_draft(spec.key) == made
        assert sink.draft_state(made) == "untouched"
        assert harness.count_drafts() == 1
