"""Expected failures a user can act on; the CLI turns each into one line on stderr and exit 2."""


class CcsegError(Exception):
    """Base for errors caused by the user's input, not by a bug."""

    exit_code = 2


class FileLevelError(CcsegError):
    """The input file as a whole cannot be read as CC GENERAL data (nothing is written)."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class ParameterError(CcsegError):
    """A flow or CLI parameter is invalid; raised before any work starts."""
