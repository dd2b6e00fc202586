"""Errors a user can act on.

The CLI prints a StatelinkError as one sentence and exits non-zero; anything else is a bug
and shows its traceback only with --debug.
"""


class StatelinkError(Exception):
    """A problem with the user's input or environment, stated in one sentence."""


class InputError(StatelinkError):
    """A dump that cannot be read: names the file, and the row or column where known."""


class ConfigError(StatelinkError):
    """params.yaml or a command-line option that does not make sense."""
