"""bounce reason: why a message bounced, in sisimai's vocabulary (issue 8)

Revision ID: 0003_bounce_reason
Revises: 0002

`hard` used to mean any 5.x.x status; it now means the address is gone, and the
tracker reacts to the reason (spam filter, mailbox full, ...). Messages stored
before this revision keep a NULL reason: the tracker then goes by `bounce_hard`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_bounce_reason"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("bounce_reason", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("bounce_reason")
