"""Bad CalDAV settings end as clear connectors.errors, never as tracebacks or leaked passwords."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.caldav import Settings, open_calendar
from connectors.errors import AuthFailed, ConfigProblem, Transient
from connectors.secrets import SecretSource
from tests.contract.calendar_suite import SINCE, reminder
from tests.servers import free_port
from tests.servers.radicale import PASSWORD, USER, Radicale, start_radicale
from tests.servers.xandikos import Xandikos, start_xandikos

WRONG = "wrong-horse-battery-staple"


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    with start_radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture(scope="module")
def xandikos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Xandikos]:
    with start_xandikos(tmp_path_factory.mktemp("xandikos")) as server:
        yield server


def secret(tmp_path: Path, value: str) -> SecretSource:
    path = tmp_path / "dav.secret"
    path.write_text(value + "\n")
    return SecretSource(file=str(path))


def test_wrong_password_is_auth_failed_without_the_password(
    radicale: Radicale, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cal = open_calendar(
        Settings(url=radicale.url, username=USER, password=secret(tmp_path, WRONG), timeout=10)
    )
    with pytest.raises(AuthFailed) as err:
        cal.open()
    message = str(err.value)
    assert radicale.url.rstrip("/") in message and USER in message
    assert WRONG not in message and WRONG not in caplog.text
    assert "check the username" in err.value.hint


def test_password_never_logged_on_success(
    radicale: Radicale, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cal = open_calendar(
        Settings(url=radicale.url, username=USER, password=secret(tmp_path, PASSWORD), timeout=10)
    )
    cal.put_event(reminder())
    cal.fetch_changes(None, since=SINCE)
    assert PASSWORD not in caplog.text
    assert "c2VjcmV0LWZvci10ZXN0cw" not in caplog.text  # nor its Basic-auth base64 form


@pytest.mark.parametrize("server_name", ["radicale", "xandikos"])
def test_url_that_answers_404_is_a_config_problem(
    server_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = request.getfixturevalue(server_name)
    login: dict[str, object] = {}
    if server_name == "radicale":  # its own user path, so rights allow the look
        login = {"username": USER, "password": secret(tmp_path, PASSWORD)}
    url = server.url + f"{USER}/no-such-calendar/"
    cal = open_calendar(Settings(url=url, timeout=10, **login))  # type: ignore[arg-type]
    with pytest.raises(ConfigProblem) as err:
        cal.fetch_changes(None, since=SINCE)
    assert "404" in str(err.value) and "/no-such-calendar/" in str(err.value)
    assert "url" in err.value.hint


def test_url_of_another_user_is_auth_failed_not_a_traceback(
    radicale: Radicale, tmp_path: Path
) -> None:
    url = radicale.url + "someone-else/calendar/"
    cal = open_calendar(
        Settings(url=url, username=USER, password=secret(tmp_path, PASSWORD), timeout=10)
    )
    with pytest.raises(AuthFailed) as err:
        cal.open()
    assert "403" in str(err.value) and "/someone-else/" in str(err.value)


def test_nobody_listening_is_transient() -> None:
    cal = open_calendar(Settings(url=f"http://127.0.0.1:{free_port()}/", timeout=5))
    with pytest.raises(Transient) as err:
        cal.find_event("ghostwatch-x")
    assert "127.0.0.1" in str(err.value)


def test_password_source_problem_names_the_source_not_a_secret(tmp_path: Path) -> None:
    missing = SecretSource(file=str(tmp_path / "nope.secret"))
    cal = open_calendar(Settings(url="http://127.0.0.1:1/", username=USER, password=missing))
    with pytest.raises(ConfigProblem) as err:
        cal.open()
    assert "nope.secret" in str(err.value)


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"url": "dav.example.com"}, "url"),
        ({"url": "https://li:pw@dav.example.com/"}, "password"),
        ({"url": "http://dav.example.com/", "password": SecretSource(env="X")}, "https"),
        ({"url": "https://dav.example.com/", "timeout": 0}, "timeout"),
        ({"url": "https://dav.example.com/", "calendar": " "}, "calendar"),
        ({"url": "https://dav.example.com/", "timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_bad_settings_say_which_key(fields: dict[str, object], word: str) -> None:
    with pytest.raises(ValueError) as err:
        Settings(**fields)  # type: ignore[arg-type]
    assert word in str(err.value)
    assert "pw@" not in str(err.value)
