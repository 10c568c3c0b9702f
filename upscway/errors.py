"""Errors that the CLI turns into exit status 2 (bad usage or input) with a one-line message,
and the CLI's exit statuses."""

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class InputError(Exception):
    """Bad input from the user: a file, a profile, a parameter. The message names the input."""
