"""the detected language of the consultant's outreach

Revision ID: 0005_lang
Revises: 0004_history

Drafts follow the language of the consultant's own outreach in the thread
(SPEC §5). The outreach's subject and text part are read once, transiently;
only the language found is kept: NULL = not read yet, "" = read, nothing
recognised, else a code such as "en" or "zh".

A thread whose outreach had external Bcc recipients holds a sequence for each,
so `ghostwatch stop CONTACT` records which contact it stops (controls.contact_addr).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_lang"
down_revision = "0004_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lang", sa.String(length=16), nullable=True))
    with op.batch_alter_table("controls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_addr", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("controls", schema=None) as batch_op:
        batch_op.drop_column("contact_addr")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("lang")
