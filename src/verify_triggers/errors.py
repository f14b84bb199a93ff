"""The one exception the CLI turns into a single line on stderr."""


class VerifyTriggersError(Exception):
    """A user-facing failure: bad input, an unreachable server, a missing install.

    ``exit_code`` is 2 for errors; findings (drift, unhealthy triggers) are not errors.
    """

    exit_code = 2
