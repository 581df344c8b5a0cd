"""Errors that mean "the user gave us bad input": the CLI prints them on one line, exits 2."""


class InputError(Exception):
    """Bad input from the user (a file, a config key); the message names what and where."""


class ConfigError(InputError):
    """A configuration value is invalid; the message starts with the key."""


class SeedFileError(InputError):
    """A seed file is malformed; the message starts with file:line."""
