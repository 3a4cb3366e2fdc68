"""The tracker: pure decision logic (states, machine, policy, business calendar, away
periods, the calendar entry it reasons about). No I/O and no database.

Imports nothing of daemon/ but itself and the bounce reason families
(classify.bounce_reason, a pure table)."""
