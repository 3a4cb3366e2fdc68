"""`ghostwatch demo`: the whole cycle on a built-in sample mailbox, no server needed."""

from daemon.demo.story import run_demo

__all__ = ["run_demo"]
