"""The exceptions the CLI turns into a single line on stderr."""


class VerifyTriggersError(Exception):
    """A user-facing failure: bad input, an unreachable server, a database error.

    The CLI prints it as one line and exits with ``exit_code``: 2 for errors.
    """

    exit_code = 2


class UnhealthyInstall(VerifyTriggersError):
    """A finding that stops a verb: what the sync needs is missing and no command here can
    put it back (a column a host migration dropped), or a repair did not take. Exit 1, as
    for every finding; the message says what to do."""

    exit_code = 1
