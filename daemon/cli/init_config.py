"""The starter config `ghostwatch init` writes: the shipped example, made the user's own.

One account with the user's address, the IMAP server guessed from its domain, the
password in a file next to the config, no calendar and no colleague: `check` on
the result then complains only about what the user has to fill in.
"""

from __future__ import annotations

import re
from pathlib import Path

from daemon.config.settings import example_config_text
from daemon.errors import GhostwatchError, UsageError

_ADDRESS = re.compile(r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")

# Providers whose IMAP server is not imap.<domain>; and webmail domains, which are not
# "your colleagues" (internal_domains) for anybody.
_IMAP_HOSTS = {
    "outlook.com": "outlook.office365.com",
    "hotmail.com": "outlook.office365.com",
    "live.com": "outlook.office365.com",
    "icloud.com": "imap.mail.me.com",
    "me.com": "imap.mail.me.com",
    "foxmail.com": "imap.qq.com",
    "yahoo.com": "imap.mail.yahoo.com",
}
_PUBLIC = {
    "gmail.com", "googlemail.com", "qq.com", "foxmail.com", "163.com", "126.com",
    "yeah.net", "sina.com", "sohu.com", "aliyun.com", "outlook.com", "hotmail.com",
    "live.com", "icloud.com", "me.com", "yahoo.com", "fastmail.com", "proton.me",
}  # fmt: skip

_FIRST_ACCOUNT = "# One [[accounts]] section per mailbox."
_SECOND_ACCOUNT = "# A second account:"


def check_address(address: str) -> str:
    address = address.strip()
    if not _ADDRESS.match(address):
        raise UsageError(
            f"{address!r} is not a mail address", hint="e.g. ghostwatch init --address you@firm.com"
        )
    return address


def ask_address() -> str:
    """Ask on the terminal (or read one line from a pipe)."""
    try:
        return input("Your mail address (the account to watch): ")
    except (EOFError, OSError):  # no terminal and nothing piped in
        raise UsageError(
            "no address given", hint="ghostwatch init --address you@firm.com"
        ) from None


def imap_host(domain: str) -> str:
    return _IMAP_HOSTS.get(domain, f"imap.{domain}")


def starter_config(address: str, secret: Path) -> str:
    """The example config with one account for `address`, its password read from `secret`."""
    address = check_address(address)
    domain = address.rsplit("@", 1)[1].lower()
    text = example_config_text()
    head, _, rest = text.partition(_FIRST_ACCOUNT)
    account, _, _ = rest.partition(_SECOND_ACCOUNT)
    internal = "[]" if domain in _PUBLIC else f'["{domain}"]'
    head = _set(head, "internal_domains", internal)
    mail, _, calendar = account.partition("[accounts.calendar]")
    mail = _set(mail, "address", f'"{address}"')
    mail = _set(mail, "display_name", '""')
    mail = _set(mail, "aliases", "[]")
    mail = _set(mail, "host", f'"{imap_host(domain)}"')
    mail = _set(mail, "username", f'"{address}"')
    mail = re.sub(r'(?m)^backup = "colleague"$', '# backup = "colleague"', mail)
    password = (
        f'password_file = "{secret}"\n'
        f"# ^ put your (app) password on the first line of that file, readable only by you:\n"
        f"#   (umask 077; printf '%s\\n' 'the-app-password' > {secret})"
    )
    mail = re.sub(r"(?m)^password_command = .*$", lambda _: password, mail)
    off = "\n".join(f"# {line}" if line and not line.startswith("#") else line for line in
                    f"[accounts.calendar]{calendar}".rstrip().splitlines())  # fmt: skip
    note = (
        "# No calendar yet: drafts only. To get call reminders, uncomment and fill in this\n"
        "# table (or use a vdir directory, see below), then run `ghostwatch check`.\n"
    )
    return f"{head}{_FIRST_ACCOUNT}{mail}{note}{off}\n"


def _set(text: str, key: str, value: str) -> str:
    """Replace the value of the first `key = ...` line (the example's own line)."""
    new, count = re.subn(rf"(?m)^{key} = .*$", lambda _: f"{key} = {value}", text, count=1)
    if count != 1:  # pragma: no cover - the shipped example has every key
        raise RuntimeError(f"the example config has no {key} line")
    return new


def write_starter(path: Path, address: str | None) -> int:
    """`ghostwatch init`: the starter config at `path`, never over an existing file."""
    if path.exists():
        raise GhostwatchError(
            f"{path} already exists", hint="edit it, or give another path: ghostwatch init PATH"
        )
    address = address or ask_address()
    secret = path.parent / "work.secret"
    text = starter_config(address, secret)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    print(f"Wrote a starter config for {address} to {path}.")
    print(f"Next: put your (app) password into {secret} (first line, mode 0600),")
    print("check host under [accounts.mail], then run")
    print(f"  ghostwatch --config {path} check")
    return 0
