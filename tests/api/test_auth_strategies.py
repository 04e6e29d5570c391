"""Authentication strategies are found by name through the ``glimpse.auth`` entry points, like stores."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pydantic import ValidationError

from glimpse.app import build_authenticator
from glimpse.auth.keystone import KeystoneAuthenticator
from glimpse.auth.loader import load_authenticator, strategy_names
from glimpse.auth.noauth import HeaderAuthenticator
from glimpse.auth.tokens import TokenAuthenticator
from glimpse.composition import open_services
from glimpse.services import Services
from glimpse.settings import Settings

KEYSTONE = {"keystone_url": "http://127.0.0.1:9/v3", "keystone_username": "glimpse", "keystone_password": "secret"}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    built = open_services(Settings(data_dir=tmp_path_factory.mktemp("auth")))
    yield built
    built.close()


def test_the_three_built_in_strategies_are_entry_points_of_the_glimpse_auth_group() -> None:
    assert {"noauth", "keystone", "tokens"} <= {ep.name for ep in entry_points(group="glimpse.auth")}
    assert {"noauth", "keystone", "tokens"} <= set(strategy_names())


@pytest.mark.parametrize(("strategy", "expected"), [
    ("noauth", HeaderAuthenticator), ("tokens", TokenAuthenticator), ("keystone", KeystoneAuthenticator),
])
def test_the_app_builds_the_strategy_the_setting_names(services: Services, strategy: str, expected: type) -> None:
    settings = Settings(data_dir=services.settings.data_dir, auth_strategy=strategy, **KEYSTONE)
    authenticator = build_authenticator(settings, services)
    assert type(authenticator) is expected


def test_an_unknown_strategy_is_a_settings_error_naming_the_setting_and_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path, auth_strategy="ldap")
    message = str(refused.value)
    assert "auth_strategy" in message and "'ldap'" in message and "keystone, noauth, tokens" in message


def test_loading_a_strategy_that_is_not_installed_names_it(services: Services) -> None:
    unchecked = services.settings.model_copy(update={"auth_strategy": "ldap"})  # past the settings' own check
    with pytest.raises(ValueError, match="auth_strategy 'ldap' is not installed; installed strategies: keystone"):
        load_authenticator(unchecked, services)


def test_glimpse_api_refuses_an_unknown_strategy_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    env["GLIMPSE_AUTH_STRATEGY"] = "ldap"
    result = subprocess.run([sys.executable, "-m", "glimpse.cli.serve", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: invalid settings: auth_strategy") and "'ldap'" in lines[0]
