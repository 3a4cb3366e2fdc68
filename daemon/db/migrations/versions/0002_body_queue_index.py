"""partial index for the body-refinement queue

Revision ID: 0002
Revises: 0001

Every sync ends with `refine_bodies`, which asks for the messages whose body
is still wanted (`needs_body IS TRUE AND gone IS FALSE`, ordered by folder and
id). On PostgreSQL `IS TRUE` cannot use the old (account_id, needs_body) index,
so a no-change sync read the whole messages table. The partial index holds only
the waiting messages, in the order the query wants them, on both databases; it
replaces the old index, which every insert of a first sync had to maintain.
The predicates are written as SQLAlchemy renders the query on each dialect,
because both planners match a partial index by the query's own terms.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_WHERE = "needs_body IS 1 AND gone IS 0"
POSTGRESQL_WHERE = "needs_body IS true AND gone IS false"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_pending_body")
        batch_op.create_index(
            "ix_messages_body_queue",
            ["account_id", "folder", "id"],
            unique=False,
            sqlite_where=sa.text(SQLITE_WHERE),
            postgresql_where=sa.text(POSTGRESQL_WHERE),
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_body_queue")
        batch_op.create_index(
            "ix_messages_pending_body", ["account_id", "needs_body"], unique=False
        )
