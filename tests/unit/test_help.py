"""``--help`` is written for people: no spec references or reST/Sphinx markup, and every command says
what it does, shows an example and lists its exit codes and settings (generated from the settings model)."""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Iterator

import pytest

from consumer import cli
from consumer.commands import _help
from consumer.settings_fields import env_for, is_secret, leaf_fields

#: Developer markup that must never reach a user: spec references, Sphinx roles, reST literals and directives.
FORBIDDEN = {
    "a spec reference": re.compile(r"SPEC|§"),
    "a Sphinx role": re.compile(r":[a-z]+(:[a-z]+)*:`"),
    "a reST literal": re.compile(r"``"),
    "a reST directive": re.compile(r"^\s*\.\. [\w-]+::", re.MULTILINE),
}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse has no public API to list subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _every_help(parser: argparse.ArgumentParser, prog: str = "convstream") -> Iterator[tuple[str, str]]:
    yield prog, parser.format_help()
    for name, sub in _subparsers(parser).items():
        yield from _every_help(sub, f"{prog} {name}")


HELPS = dict(_every_help(cli.build_parser()))


def _command_help(name: str) -> str:
    return HELPS[f"convstream {name}"]


def test_every_command_and_subcommand_is_checked() -> None:
    assert {f"convstream {name}" for name in cli.COMMANDS} < set(HELPS)
    assert "convstream dlq replay" in HELPS


@pytest.mark.parametrize("prog", sorted(HELPS))
def test_every_help_shows_an_example_and_exit_codes(prog: str) -> None:
    assert "\nexample:\n  convstream" in HELPS[prog]
    assert re.search(r"\nexit codes[^\n]*:\n +0  \S", HELPS[prog])


@pytest.mark.parametrize("prog", sorted(HELPS))
def test_help_has_no_developer_markup(prog: str) -> None:
    text = HELPS[prog]
    for what, pattern in FORBIDDEN.items():
        match = pattern.search(text)
        assert match is None, f"`{prog} --help` contains {what}: {match.group(0)!r} in\n{text}"


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_help_describes_the_command_with_an_example_and_exit_codes(name: str) -> None:
    module = importlib.import_module(f"consumer.commands.{name}")
    text = _command_help(name)
    assert module.DESCRIPTION.strip()
    assert module.__doc__ != module.DESCRIPTION  # the docstring is the developer contract
    first_line = module.DESCRIPTION.strip().splitlines()[0]
    assert first_line in text  # raw formatting: the paragraphs keep their lines
    example = text.split("\nexample:\n", 1)[1].split("\n\n", 1)[0]
    assert f"  convstream {name}" in example
    codes = text.split("\nexit codes:\n", 1)[1]
    assert re.search(r"^\s+0  \S", codes, re.MULTILINE)
    assert len(module.EXIT_CODES) >= 2


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_every_option_has_help(name: str) -> None:
    parser = _subparsers(cli.build_parser())[name]
    parsers = [parser, *_subparsers(parser).values()]
    for each in parsers:
        for action in each._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{each.prog}: {action.option_strings or action.dest} has no help="


def test_every_setting_has_a_description() -> None:
    missing = [env_for(path) for path, field in leaf_fields() if not (field.description or "").strip()]
    assert not missing, f"settings without description=: {missing}"


def test_settings_lines_come_from_the_model_with_defaults() -> None:
    text = " ".join(" ".join(_help.settings_lines(["consumer", "postgres"])).split())
    for path, field in leaf_fields():
        if path[0] in {"consumer", "postgres"}:
            assert env_for(path) in text
            assert (field.description or "").split()[0] in text
    assert "CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS most events per batch (default 1000)" in text
    assert "one of earliest | latest (default earliest)" in text


def test_a_secret_default_is_never_printed() -> None:
    secrets = [(path, field) for path, field in leaf_fields() if is_secret(field)]
    dsn_default = next(field.default for path, field in secrets if path == ("postgres", "dsn"))
    everything = "\n".join(HELPS.values())
    assert "CONVSTREAM_POSTGRES__DSN" in everything
    assert dsn_default.get_secret_value() not in everything
    for path, _ in secrets:
        entry = _entry(_help.settings_lines([path[0]]), env_for(path))
        assert entry.endswith("(secret)"), entry
        assert "(default " not in entry, entry


def _entry(lines: list[str], env: str) -> str:
    """The text of one setting's entry (its name line and the wrapped lines under it)."""
    start = next(i for i, line in enumerate(lines) if line.split()[0] == env)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("  CONVSTREAM_")), len(lines))
    return " ".join(" ".join(lines[start:end]).split())


def test_each_section_is_listed_in_full_by_the_command_it_points_to() -> None:
    for section, (home, _about) in _help.SECTION_HOME.items():
        module = importlib.import_module(f"consumer.commands.{home}")
        assert section in module.SETTINGS, f"{section} points to `{home} --help`, which does not list it"


def test_bridge_help_stays_concise() -> None:
    assert len(_command_help("bridge").splitlines()) <= 120
