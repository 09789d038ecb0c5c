"""Expected failures a user can act on; the CLI turns each into one line on stderr.

Exit codes: 2 for input the user can fix (a path, a flag, a setting, a service that does not
answer), 75 (EX_TEMPFAIL) when another run holds the working folder: try again later.
"""


class CcsegError(Exception):
    """Base for errors caused by the user's input or environment, not by a bug."""

    exit_code = 2


class FileLevelError(CcsegError):
    """The input file as a whole cannot be read as CC GENERAL data (nothing is written)."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class ParameterError(CcsegError):
    """A flow or CLI parameter is invalid; raised before any work starts."""


class UnreachableError(CcsegError):
    """A service named by a setting or flag (MLflow, Dask, Prefect) does not answer."""


class BusyError(CcsegError):
    """Another run holds the working folder (or the model store); nothing was changed."""

    exit_code = 75
