"""The settings of one command, loaded once: ``cli.main`` loads them (for logging and redaction) and hands
them to the command through its arguments; a command run without ``cli.main`` loads them itself."""

from __future__ import annotations

import argparse

from consumer.settings import Settings, load_settings

__all__ = ["SETTINGS_ATTRIBUTE", "command_settings"]

#: The ``argparse.Namespace`` attribute holding the settings ``cli.main`` loaded.
SETTINGS_ATTRIBUTE = "_settings"


def command_settings(args: argparse.Namespace) -> Settings:
    """The settings ``cli.main`` already loaded for this command, else freshly loaded ones.

    Raises:
        ConfigError: the settings are invalid (``cli.main`` could not load them either).
    """
    loaded = getattr(args, SETTINGS_ATTRIBUTE, None)
    return loaded if isinstance(loaded, Settings) else load_settings()
