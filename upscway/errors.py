"""Errors that the CLI turns into exit status 2 (bad usage or input) with a one-line message."""


class InputError(Exception):
    """Bad input from the user: a file, a profile, a parameter. The message names the input."""
