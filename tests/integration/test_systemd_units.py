"""The shipped systemd units pass `systemd-analyze verify` without a single warning.

verify exits 0 even for unknown keys or bad values (it only warns), so the
test asserts on its output. ExecStart names /usr/local/bin/ghostwatch, which
verify insists exists; each test verifies a copy whose ExecStart points at a
stub executable, everything else byte for byte as shipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers import servers_required

UNITS = Path(__file__).resolve().parents[2] / "systemd"
SHIPPED_EXEC = "/usr/local/bin/ghostwatch"


@pytest.fixture(scope="module")
def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        if servers_required():
            pytest.fail("systemd-analyze is required (apt-get install systemd)")
        pytest.skip("systemd-analyze not installed")
    return found


def _copy(unit: str, tmp_path: Path, name: str | None = None) -> Path:
    stub = tmp_path / "ghostwatch"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    text = (UNITS / unit).read_text(encoding="utf-8")
    assert f"ExecStart={SHIPPED_EXEC} " in text
    target = tmp_path / (name or unit)
    target.write_text(text.replace(SHIPPED_EXEC, str(stub)), encoding="utf-8")
    return target


def _verify(analyze: str, tmp_path: Path, path: Path, *, user: bool) -> str:
    env = {**os.environ, "SYSTEMD_LOG_COLOR": "0"}
    args = [analyze]
    if user:
        runtime = tmp_path / "xdg-runtime"  # the user manager wants one; none runs here
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
        args.append("--user")
    done = subprocess.run(
        [*args, "verify", str(path)], capture_output=True, text=True, env=env, timeout=60
    )
    return (done.stdout + done.stderr).strip() + ("" if done.returncode == 0 else " (failed)")


def test_user_unit_verifies_clean(analyze: str, tmp_path: Path) -> None:
    unit = _copy("ghostwatch.service", tmp_path)
    assert _verify(analyze, tmp_path, unit, user=True) == ""


def test_template_instance_verifies_clean(analyze: str, tmp_path: Path) -> None:
    _copy("ghostwatch@.service", tmp_path)
    # verify instantiates the template found beside the instance name.
    instance = tmp_path / "ghostwatch@li.lei.service"
    assert _verify(analyze, tmp_path, instance, user=False) == ""


def test_verify_would_catch_a_mistake(analyze: str, tmp_path: Path) -> None:
    """Guards the two tests above: a broken unit must not verify clean."""
    unit = _copy("ghostwatch.service", tmp_path)
    unit.write_text(unit.read_text().replace("ProtectHome=read-only", "ProtectHome=maybe"))
    assert "maybe" in _verify(analyze, tmp_path, unit, user=True)


@pytest.mark.parametrize("unit", ["ghostwatch.service", "ghostwatch@.service"])
def test_units_carry_the_daemon_contract(unit: str) -> None:
    text = (UNITS / unit).read_text(encoding="utf-8")
    lines = {line.strip() for line in text.splitlines() if not line.startswith("#")}
    for needed in (
        "Type=notify",
        "NotifyAccess=main",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "SystemCallFilter=@system-service",
        "UMask=0077",
    ):
        assert needed in lines, f"{unit}: {needed}"
    assert any(line.startswith("WatchdogSec=") for line in lines)
    assert any(line.startswith("StateDirectory=") for line in lines)
