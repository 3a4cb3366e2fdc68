"""The tracker: pure decision logic (states, machine, policy calendar math)."""
