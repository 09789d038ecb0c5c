"""Preflight for the chat commands `ccseg chatbot serve|fake-bedrock`, owned by `chatbot/cli.py`.

The chat package is independent (it never imports the pipeline), so its commands are mounted as
they are and checked here, before they run: the port the user typed is named as `--port` (not
CHATBOT_PORT), a busy or impossible port is one line instead of a traceback, and invalid CHATBOT_*
settings take the `ccseg: error:` form. Commands this module does not know run unchecked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from core.errors import ParameterError


def _check_serve(host: str | None = None, port: int | None = None, **_: Any) -> None:
    from ccseg.services import check_port_free
    from chatbot.settings import SettingsError, load_settings

    if port is not None and not 0 < port <= 65535:
        raise ParameterError(f"--port {port}: the service needs a port from 1 to 65535")
    overrides = {name: value for name, value in (("host", host), ("port", port)) if value}
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        raise ParameterError(str(exc)) from None
    check_port_free(settings.host, settings.port, "--port" if port is not None else "CHATBOT_PORT")


def _check_fake_bedrock(host: str = "127.0.0.1", port: int = 0, **_: Any) -> None:
    from ccseg.services import check_port_free

    check_port_free(host, port)


PREFLIGHTS: dict[str, Callable[..., None]] = {
    "serve": _check_serve,
    "fake-bedrock": _check_fake_bedrock,
}


def add_chat_preflight(root: Any, group_name: str = "chatbot") -> None:
    """Run each known chat command's check before the command itself (click callbacks)."""
    group = getattr(root, "commands", {}).get(group_name)
    for name, check in PREFLIGHTS.items():
        command = getattr(group, "commands", {}).get(name)
        if command is None or command.callback is None:
            continue
        command.callback = _checked(command.callback, check)


def _checked(callback: Callable[..., Any], check: Callable[..., None]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run_checked(*args: Any, **params: Any) -> Any:
        check(**params)
        return callback(*args, **params)

    return run_checked
