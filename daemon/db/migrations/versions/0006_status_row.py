"""what `status` shows for each sequence, stored with the decision

Revision ID: 0006_status_row
Revises: 0005_lang

`status` replayed every thread with mail of ours on every call (10-16 s on a
100k-message database). `decide` now stores each sequence's status line as
JSON (decide/status_row.py) with the instant it may change; `status` reads it
back and replays only the threads where that is not enough. NULL: decided
before this revision, so replayed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_status_row"
down_revision = "0005_lang"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sequences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_row", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sequences", schema=None) as batch_op:
        batch_op.drop_column("status_row")
