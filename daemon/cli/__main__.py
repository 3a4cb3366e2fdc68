"""`python -m daemon.cli`: the same entry point as the `ghostwatch` script."""

from daemon.cli.main import main

raise SystemExit(main())
