"""The landing watcher: announce each new CSV as a `ccseg.data.landed` Prefect event.

The `on-new-data` deployment (prefect.yaml) is triggered by that event and takes
`data_path` from its payload. Delivery is at least once: state is saved after the events are
emitted, so a crash in between announces the same file again rather than never.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow
from prefect.events import Event, emit_event
from prefect.events.clients import get_events_client
from prefect.settings import PREFECT_API_URL

from core.errors import ParameterError
from tasks.data.landing import (
    STATE_FILE_NAME,
    LandedFile,
    landed_file,
    load_state,
    mark_announced,
    require_landing_dir,
    require_pattern,
    require_state_file,
    save_state,
    scan_landing,
)

# A file counts as fully written once untouched this long; the watcher runs every 5 minutes,
# so a file caught mid-upload waits one extra run at most.
DEFAULT_SETTLE_SECONDS = 60.0


class EventNotSent(RuntimeError):
    """Prefect accepted no event (it logged why); the file stays unannounced for the next run."""


def require_event_api() -> str:
    """The Prefect API URL; without one, events go to a throwaway server and trigger nothing."""
    url = PREFECT_API_URL.value()
    if not url:
        raise ParameterError(
            "PREFECT_API_URL is not set: the landed-data event would trigger nothing. Start a "
            "server (`prefect server start`) and export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return url


@flow(name="landing-watch", log_prints=True)
def watch_landing(
    landing_dir: Path = Path("landing"),
    pattern: str = "*.csv",
    state_file: Path | None = None,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
) -> list[LandedFile]:
    """Emit `ccseg.data.landed` once per settled file whose content was never announced.

    New means new bytes (sha256): a renamed copy is not new, an overwrite with other bytes is.
    State lives in `state_file` (default: a dot-file inside the landing folder).
    """
    require_event_api()
    if settle_seconds < 0:
        raise ParameterError(f"settle_seconds must be 0 or more, got {settle_seconds}")
    landing = require_landing_dir(Path(landing_dir))
    require_pattern(pattern)
    state_path = require_state_file(
        Path(state_file) if state_file is not None else landing / STATE_FILE_NAME
    )
    state = load_state(state_path)
    scan = scan_landing(landing, pattern, state, datetime.now(UTC).timestamp(), settle_seconds)

    announced: list[LandedFile] = []
    try:
        for landed in scan.new_files:
            if emit_event(**landed.event_fields()) is None:
                raise EventNotSent(f"no event was emitted for {landed.path}; see the log above")
            announced.append(landed)
            print(f"announced {landed.path.name} ({landed.bytes:,} bytes, {landed.resource_id})")
    finally:
        # Whatever was announced is recorded even if a later emission failed.
        now = datetime.now(UTC).isoformat()
        save_state(mark_announced(state, scan, announced, now), state_path)
    if scan.unsettled:
        print(f"left for the next look (still being written): {len(scan.unsettled)} file(s)")
    print(f"{len(announced)} new file(s) in {landing}")
    return announced


def watch(
    landing_dir: Path = Path("landing"),
    pattern: str = "*.csv",
    state_file: Path | None = None,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
) -> list[LandedFile]:
    """`ccseg watch`: one look at the landing folder, checked before a flow run starts."""
    require_event_api()
    landing = require_landing_dir(Path(landing_dir))
    require_pattern(pattern)
    require_state_file(Path(state_file) if state_file is not None else landing / STATE_FILE_NAME)
    if settle_seconds < 0:
        raise ParameterError(f"--settle-seconds must be 0 or more, got {settle_seconds:g}")
    return watch_landing(
        landing_dir=landing_dir,
        pattern=pattern,
        state_file=state_file,
        settle_seconds=settle_seconds,
    )


def notify(path: Path) -> LandedFile:
    """`ccseg notify PATH`: announce one file by hand, seen before or not; state is untouched."""
    url = require_event_api()
    landed = landed_file(Path(path))
    event = Event(**landed.event_fields())
    try:
        asyncio.run(_send(event))
    except OSError as exc:
        raise ParameterError(f"could not send the event to {url}: {exc}") from None
    return landed


async def _send(event: Event) -> None:
    # Direct client, not the background worker: the CLI exits right after, and errors surface.
    async with get_events_client() as client:
        await client.emit(event)
