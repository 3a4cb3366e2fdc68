"""a sequence remembers the outcome it had before the contact returned

Revision ID: 0004_history
Revises: 0003_bounce_reason

A reply after a sequence ended `ghosted` or `stopped` makes it `replied`; the
case library keeps both outcomes: what it was (`returned_from`), since when
(`returned_from_at`), and how long the contact stayed silent before writing back
(`returned_after_hours`, from the last touch to the reply).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import daemon.db.tables

revision = "0004_history"
down_revision = "0003_bounce_reason"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sequences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("returned_from", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "returned_from_at", daemon.db.tables.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("returned_after_hours", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sequences", schema=None) as batch_op:
        batch_op.drop_column("returned_after_hours")
        batch_op.drop_column("returned_from_at")
        batch_op.drop_column("returned_from")
