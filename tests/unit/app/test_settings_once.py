"""A command's settings are loaded once: ``cli.main`` hands the ones it loaded to the command."""

from __future__ import annotations

import argparse

import pytest

from consumer import cli
from consumer.app import settings as app_settings
from consumer.app.settings import SETTINGS_ATTRIBUTE, command_settings
from consumer.commands import status
from consumer.settings import Settings, load_settings


def test_command_settings_are_the_ones_cli_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_settings()
    monkeypatch.setattr(app_settings, "load_settings", lambda: pytest.fail("settings loaded twice"))
    assert command_settings(argparse.Namespace(**{SETTINGS_ATTRIBUTE: loaded})) is loaded


def test_a_command_run_without_cli_loads_its_own() -> None:
    assert isinstance(command_settings(argparse.Namespace()), Settings)


def test_cli_main_loads_the_settings_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Settings] = []

    def counting_load() -> Settings:
        calls.append(load_settings())
        return calls[-1]

    seen: list[Settings] = []

    def fake_run(args: argparse.Namespace) -> int:
        seen.append(command_settings(args))
        return 0

    monkeypatch.setattr(cli, "load_settings", counting_load)
    monkeypatch.setattr(app_settings, "load_settings", counting_load)
    monkeypatch.setattr(status, "run", fake_run)
    assert cli.main(["status", "some-conversation"]) == 0
    assert len(calls) == 1
    assert seen == calls
