"""Carrying out decisions: drafts into the Drafts folder, reminders into the calendar,
the templates that word them, the daily "drafts waiting" digest, the gw: tags that
outlive the database (marks), and the phone number a "call X" reminder shows.

Imports decide, tracker, db, config, connectors, and runtime.wiring (marks opens
the mailbox to set a tag)."""
