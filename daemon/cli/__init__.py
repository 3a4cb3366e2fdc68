"""The command line: argument parsing (main), what each command does (commands) and
how results are shown (present). May import every daemon package; nothing imports it."""
