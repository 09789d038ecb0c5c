"""The landing watcher against a real Prefect API: which files become `ccseg.data.landed` events."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
from prefect.events.schemas.events import ReceivedEvent
from prefect.settings import PREFECT_API_URL, temporary_settings

from core.errors import FileLevelError, ParameterError
from flows.data_watch import notify, watch, watch_landing
from tasks.data.landing import (
    LANDED_EVENT,
    STATE_FILE_NAME,
    LandingState,
    load_state,
    save_state,
    scan_landing,
    sha256_of,
)

HEADER = "CUST_ID,BALANCE,PURCHASES\n"
AN_HOUR_AGO = 3600.0


def land(path: Path, text: str, age_seconds: float = AN_HOUR_AGO) -> Path:
    """Write a CSV and date it `age_seconds` in the past (a finished upload by default)."""
    path.write_text(HEADER + text)
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def resource_id(path: Path) -> str:
    return f"ccseg.data.{sha256_of(path)[:16]}"


async def _landed_events(resource: str) -> list[ReceivedEvent]:
    async with get_client() as client:
        page = await client.read_events(
            filter=EventFilter(
                event=EventNameFilter(name=[LANDED_EVENT]),
                resource=EventResourceFilter(id=[resource]),
            ),
            # The client's default (100) is over the server's maximum page size (50): a 422.
            limit=50,
        )
    return page.events


def wait_for_landed_events(resource: str, expected: int, timeout: float = 30.0) -> list:
    """Poll the events API (the server persists events in batches) until `expected` arrive."""
    deadline = time.monotonic() + timeout
    events = asyncio.run(_landed_events(resource))
    while len(events) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        events = asyncio.run(_landed_events(resource))
    return events


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


def test_new_file_reaches_the_events_api_once_with_path_sha_and_size(
    prefect_api: None, landing: Path
) -> None:
    csv = land(landing / "batch-1.csv", "C1,10.0,5.0\n")

    announced = watch_landing(landing_dir=landing)

    assert [a.path for a in announced] == [csv.resolve()]
    events = wait_for_landed_events(resource_id(csv), expected=1)
    assert len(events) == 1
    assert events[0].payload == {
        "path": str(csv.resolve()),
        "sha256": sha256_of(csv),
        "bytes": csv.stat().st_size,
    }


def test_same_bytes_renamed_is_not_new_but_changed_bytes_are(
    prefect_api: None, landing: Path
) -> None:
    csv = land(landing / "batch.csv", "C2,20.0,1.0\n")
    first_resource = resource_id(csv)
    assert len(watch_landing(landing_dir=landing)) == 1

    assert watch_landing(landing_dir=landing) == []  # the same bytes, looked at again
    csv.rename(landing / "batch-renamed.csv")
    assert watch_landing(landing_dir=landing) == []  # a renamed copy is not new data

    changed = land(landing / "batch-renamed.csv", "C2,20.0,1.0\nC3,30.0,2.0\n")
    announced = watch_landing(landing_dir=landing)

    assert [a.sha256 for a in announced] == [sha256_of(changed)]
    assert len(wait_for_landed_events(resource_id(changed), expected=1)) == 1
    # The changed file's event has arrived; a duplicate of the first would have arrived before.
    assert len(wait_for_landed_events(first_resource, expected=1)) == 1


def test_file_still_being_written_is_left_for_a_later_look(
    prefect_api: None, landing: Path
) -> None:
    growing = land(landing / "upload.csv", "C4,1.0,1.0\n", age_seconds=0)

    assert watch_landing(landing_dir=landing, settle_seconds=60) == []

    land(growing, "C4,1.0,1.0\nC5,2.0,2.0\n")  # upload finished an hour ago
    announced = watch_landing(landing_dir=landing, settle_seconds=60)
    assert [a.path.name for a in announced] == ["upload.csv"]
    assert len(wait_for_landed_events(resource_id(growing), expected=1)) == 1


def test_file_that_changes_while_hashed_is_skipped(landing: Path) -> None:
    csv = land(landing / "upload.csv", "C6,1.0,1.0\n")

    def hash_while_writer_appends(path: Path) -> str:
        digest = sha256_of(path)
        with path.open("a") as stream:
            stream.write("C7,2.0,2.0\n")
        return digest

    scan = scan_landing(landing, "*.csv", LandingState(), time.time(), 0, hash_while_writer_appends)

    assert scan.new_files == []
    assert scan.unsettled == [csv]


def test_state_file_survives_a_restart_and_is_valid_json(
    prefect_api: None, tmp_path: Path, landing: Path
) -> None:
    state_file = tmp_path / "state" / "landing.json"
    csv = land(landing / "batch.csv", "C8,8.0,8.0\n")
    watch_landing(landing_dir=landing, state_file=state_file)

    saved = json.loads(state_file.read_text())
    assert set(saved["seen"]) == {sha256_of(csv)}
    assert not (landing / STATE_FILE_NAME).exists()
    # A new process knows nothing but the file: it must still treat the content as seen.
    assert watch_landing(landing_dir=landing, state_file=state_file) == []
    assert not list(state_file.parent.glob("*.tmp"))


def test_default_state_file_sits_in_the_landing_folder_and_is_not_a_candidate(
    prefect_api: None, landing: Path
) -> None:
    land(landing / "batch.csv", "C9,9.0,9.0\n")
    watch_landing(landing_dir=landing, pattern="*")

    assert (landing / STATE_FILE_NAME).is_file()
    assert watch_landing(landing_dir=landing, pattern="*") == []


def test_missing_landing_folder_is_a_parameter_error(prefect_api: None, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="landing folder not found"):
        watch(landing_dir=tmp_path / "nowhere")


def test_unreadable_state_file_is_a_parameter_error_naming_the_fix(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text("{not json")

    with pytest.raises(ParameterError, match="delete it to start over"):
        load_state(state_file)


def test_saved_state_loads_back_equal(tmp_path: Path) -> None:
    state = LandingState(
        seen={"ab" * 32: {"path": "/x.csv", "bytes": 3, "first_seen": "2024-01-01T00:00:00"}},
        hashes={"/x.csv": {"size": 3, "mtime_ns": 1, "sha256": "ab" * 32}},
    )

    assert load_state(save_state(state, tmp_path / "s.json")) == state


def test_without_a_prefect_api_the_watcher_refuses_to_run(tmp_path: Path) -> None:
    with temporary_settings(updates={PREFECT_API_URL: None}):
        with pytest.raises(ParameterError, match="PREFECT_API_URL"):
            notify(tmp_path / "any.csv")
        with pytest.raises(ParameterError, match="PREFECT_API_URL"):
            watch(landing_dir=tmp_path)


def test_notify_announces_a_file_by_hand_even_if_seen(prefect_api: None, landing: Path) -> None:
    csv = land(landing / "manual.csv", "C10,1.0,1.0\n")
    watch_landing(landing_dir=landing)

    landed = notify(csv)

    assert landed.sha256 == sha256_of(csv)
    assert len(wait_for_landed_events(resource_id(csv), expected=2)) == 2


def test_notify_on_a_missing_file_is_a_file_level_error(prefect_api: None, tmp_path: Path) -> None:
    with pytest.raises(FileLevelError, match=r"missing\.csv: file not found"):
        notify(tmp_path / "missing.csv")
