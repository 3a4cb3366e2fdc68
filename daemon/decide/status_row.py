"""One sequence as `status` shows it: what a replay decided, small enough to store.

`decide` stores a StatusRow with each sequence (sequences.status_row), and `status`
renders StatusRows whether it replayed the thread or read them back: both paths go
through the same fields, so the output cannot drift between them. `changes_at` is
the first instant at which the replay could say something else without any new
input (a step falling due, a snooze ending, a waiting draft turning stale); until
then the stored row is what a replay would print.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.config.settings import AccountConfig, Config
    from daemon.decide.replay import Decision

OPEN_STATES = frozenset({"waiting", "draft_pending"})
_TIMES = ("started_at", "last_touch_at", "next_due", "ended_at", "draft_waiting_since",
          "snoozed_until", "changes_at")  # fmt: skip


@dataclass(frozen=True, slots=True)
class StatusRow:
    sequence_id: str
    account: str
    thread_id: int
    contact: str
    contact_name: str
    subject: str
    state: str
    steps_done: int
    steps_total: int  # the playbook's
    started_at: datetime
    last_touch_at: datetime | None
    next_step: int | None
    next_action: str
    next_due: datetime | None
    risk: str
    ended_at: datetime | None
    outcome: str
    red_flags: tuple[str, ...]
    draft_waiting_since: datetime | None
    snoozed_until: datetime | None
    call_instead: str
    returned_from: str | None
    tags: dict[str, str] = field(default_factory=dict)
    current: bool = True  # the thread's latest sequence
    changes_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    @classmethod
    def of(cls, d: Decision) -> StatusRow:
        rec = d.run.record
        return cls(
            sequence_id=d.sequence_id,
            account=d.account,
            thread_id=d.thread_id,
            contact=d.facts.contact,
            contact_name=d.facts.contact_name,
            subject=d.facts.subject,
            state=rec.state.value,
            steps_done=rec.steps_done,
            steps_total=len(d.playbook.steps),
            started_at=rec.started_at,
            last_touch_at=rec.last_touch_at,
            next_step=d.next.step,
            next_action=d.next.action,
            next_due=d.next.due,
            risk=d.risk.value,
            ended_at=rec.ended_at,
            outcome=rec.outcome_reason,
            red_flags=tuple(rec.red_flags),
            draft_waiting_since=d.draft_waiting_since,
            snoozed_until=d.snoozed_until,
            call_instead=rec.call_instead,
            returned_from=rec.returned_from.value if rec.returned_from else None,
            tags=dict(d.playbook.tags),
            current=d.current,
            changes_at=d.changes_at,
        )

    @property
    def returned_after_days(self) -> int | None:
        """Whole days of silence the contact broke (tracker.machine.returned_days)."""
        if self.returned_from is None or self.ended_at is None or self.last_touch_at is None:
            return None
        return (self.ended_at - self.last_touch_at).days

    def to_json(self, **extra: object) -> str:
        """The row as stored, with `extra` keys beside it (its order in the thread,
        the policy fingerprint)."""
        data = {**asdict(self), **extra}
        for name in _TIMES:
            data[name] = data[name].isoformat() if data[name] is not None else None
        data["red_flags"] = list(self.red_flags)
        return json.dumps(data, ensure_ascii=False)  # key order kept: tags print in it

    @classmethod
    def from_json(cls, text: str) -> StatusRow:
        return cls.from_data(json.loads(text))

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> StatusRow:
        """From the stored JSON, parsed (extra keys are ignored)."""
        data = dict(data)
        for name in _TIMES:
            if data.get(name) is not None:
                data[name] = datetime.fromisoformat(data[name])
        data["red_flags"] = tuple(data["red_flags"])
        return cls(**{f.name: data[f.name] for f in fields(cls)})


def policy_fingerprint(config: Config, account: AccountConfig) -> str:
    """What a decision depended on in the config; a stored open row with another one
    is replayed. No secrets go in: the account's connector settings are left out."""
    parts = (
        config.policy,
        config.daemon.templates_dir,
        account.name,
        account.address,
        account.aliases,
        account.locale,
        account.backup,
    )
    text = json.dumps(_canonical(parts), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(value: object) -> object:
    """The same text in every process: sets sorted (their order follows the hash seed)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, set | frozenset):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value if isinstance(value, str | int | float | bool | None) else repr(value)
