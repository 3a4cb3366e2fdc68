"""SIGHUP: read the config file again, or say why the running config stays."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from daemon import failures
from daemon.config.loader import load_config
from daemon.config.schema import ConfigError
from daemon.config.settings import Config

log = logging.getLogger("daemon.runtime.service")  # the daemon's lines keep one source

FAILED_NOTE = " (config reload failed)"


def reread_config(path: Path, old: Config) -> tuple[Config | None, str]:
    """The new config (None: keep `old`), and a note for the status line.

    The database stays the running one: another store needs a restart.
    """
    try:
        config = load_config(path)
    except ConfigError as exc:
        log.error(
            "config reload: %s has %d problem(s); keeping the running config",
            exc.source, len(exc.problems),
        )  # fmt: skip
        for problem in exc.problems:
            log.error("config reload: %s", problem)
        return None, FAILED_NOTE
    except Exception as exc:
        log.error("config reload failed (%s); keeping the running config", failures.where(exc))
        return None, ""
    if config.daemon.database != old.daemon.database:
        log.warning("config reload: a new database takes effect only after a restart")
        config = dataclasses.replace(
            config, daemon=dataclasses.replace(config.daemon, database=old.daemon.database)
        )
    return config, ""
