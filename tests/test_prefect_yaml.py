"""prefect.yaml: every deployment names a real flow and real parameters, and deploys for real."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.events import DeploymentEventTrigger
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.settings import PREFECT_API_URL
from prefect.workers.process import ProcessWorker

from flows.data_watch import notify
from tasks.data.landing import LANDED_EVENT
from tasks.drift.publish import DRIFT_EVENT, SOURCE_LABEL, VERDICT_LABEL

REPO_ROOT = Path(__file__).resolve().parents[1]
PREFECT_YAML = REPO_ROOT / "prefect.yaml"
EXPECTED_DEPLOYMENTS = {
    "segmentation-scheduled",
    "on-new-data",
    "retrain-on-drift",
    "landing-watch",
    "scoring",
    "chatbot-loadtest",
}
DEPLOY_TIMEOUT_SECONDS = 120


def load_config() -> dict[str, Any]:
    return yaml.safe_load(PREFECT_YAML.read_text())


def deployments() -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in load_config()["deployments"]}


def flow_of(deployment: dict[str, Any]) -> Flow:
    file, function = deployment["entrypoint"].split(":")
    return load_flow_from_entrypoint(f"{REPO_ROOT / file}:{function}")


def parameter_names(flow: Flow) -> set[str]:
    return set(inspect.signature(flow.fn).parameters)


def required_parameters(flow: Flow) -> set[str]:
    return {
        name
        for name, p in inspect.signature(flow.fn).parameters.items()
        if p.default is inspect.Parameter.empty
    }


def on_new_data_trigger() -> dict[str, Any]:
    (trigger,) = deployments()["on-new-data"]["triggers"]
    return trigger


def test_prefect_yaml_declares_the_six_deployments_on_the_process_pool() -> None:
    config = deployments()

    assert set(config) == EXPECTED_DEPLOYMENTS
    assert {d["work_pool"]["name"] for d in config.values()} == {"ccseg-process"}


def test_pull_step_changes_into_the_checkout_named_by_the_workers_environment() -> None:
    (step,) = load_config()["pull"]

    assert step == {
        "prefect.deployments.steps.set_working_directory": {"directory": "{{ $CCSEG_PROJECT_DIR }}"}
    }


@pytest.mark.parametrize("name", sorted(EXPECTED_DEPLOYMENTS))
def test_every_named_parameter_belongs_to_the_deployments_flow(name: str) -> None:
    deployment = deployments()[name]
    accepted = parameter_names(flow_of(deployment))
    named = set(deployment.get("parameters") or {})
    for trigger in deployment.get("triggers") or []:
        named |= set(trigger.get("parameters") or {})

    assert named <= accepted, f"{name}: unknown parameters {named - accepted}"


@pytest.mark.parametrize(
    "name", ["segmentation-scheduled", "on-new-data", "retrain-on-drift", "landing-watch"]
)
def test_unattended_deployments_need_no_parameter_from_a_person(name: str) -> None:
    deployment = deployments()[name]
    provided = set(deployment.get("parameters") or {})
    for trigger in deployment.get("triggers") or []:
        provided |= set(trigger.get("parameters") or {})

    assert required_parameters(flow_of(deployment)) <= provided


def test_scoring_is_manual_and_leaves_its_required_paths_to_the_caller() -> None:
    scoring = deployments()["scoring"]

    assert not scoring.get("schedules") and not scoring.get("triggers")
    assert required_parameters(flow_of(scoring)) == {"data_path", "output_path"}


def test_chatbot_loadtest_defaults_to_a_loopback_target() -> None:
    loadtest = deployments()["chatbot-loadtest"]

    assert loadtest["parameters"]["base_url"].startswith("http://127.0.0.1:")
    assert not loadtest.get("schedules") and not loadtest.get("triggers")


def test_new_data_trigger_expects_the_landed_event_and_templates_data_path() -> None:
    trigger = DeploymentEventTrigger.model_validate(on_new_data_trigger())

    assert trigger.expect == {LANDED_EVENT}
    assert trigger.match.model_dump()["prefect.resource.id"] == "ccseg.data.*"
    assert trigger.parameters == {"data_path": "{{ event.payload.path }}"}
    assert trigger.threshold == 1
    assert not deployments()["on-new-data"].get("schedules")


def test_retraining_runs_only_on_drift_from_scoring_and_one_at_a_time() -> None:
    retrain = deployments()["retrain-on-drift"]
    (raw,) = retrain["triggers"]
    trigger = DeploymentEventTrigger.model_validate(raw)

    assert trigger.expect == {DRIFT_EVENT}
    labels = trigger.match.model_dump()
    assert (labels[VERDICT_LABEL], labels[SOURCE_LABEL]) == ("drift", "scoring")
    assert trigger.parameters == {"data_path": "{{ event.payload.path }}"}
    assert retrain["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert retrain["work_pool"]["work_queue_name"] == "retraining"


def test_schedules_parse_as_daily_cron_and_five_minute_interval() -> None:
    (daily,) = deployments()["segmentation-scheduled"]["schedules"]
    (watch,) = deployments()["landing-watch"]["schedules"]

    cron = CronSchedule(cron=daily["cron"], timezone=daily["timezone"])
    interval = IntervalSchedule(interval=watch["interval"])
    assert (cron.cron, cron.timezone) == ("0 3 * * *", "UTC")
    assert interval.interval.total_seconds() == 300


async def _prepare_pool() -> None:
    async with get_client() as client:
        await client.create_work_pool(
            WorkPoolCreate(
                name="ccseg-process",
                type="process",
                base_job_template=ProcessWorker.get_default_base_job_template(),
            ),
            overwrite=True,
        )
        # As docs/operations.md says: one segmentation run at a time.
        await client.create_work_queue(
            name="segmentation", work_pool_name="ccseg-process", concurrency_limit=1
        )


async def _read_back() -> dict[str, Any]:
    async with get_client() as client:
        found: dict[str, Any] = {}
        for name in EXPECTED_DEPLOYMENTS:
            flow_name = flow_of(deployments()[name]).name
            deployment = await client.read_deployment_by_name(f"{flow_name}/{name}")
            automations = await client.read_resource_related_automations(
                f"prefect.deployment.{deployment.id}"
            )
            found[name] = (deployment, automations)
        return found


@pytest.fixture(scope="module")
def deployed(prefect_api: None) -> dict[str, Any]:
    """Run the documented `prefect --no-prompt deploy --all` against the test API, read back."""
    asyncio.run(_prepare_pool())
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    prefect_cli = Path(sys.executable).with_name("prefect")
    result = subprocess.run(
        [str(prefect_cli), "--no-prompt", "deploy", "--all"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEPLOY_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return asyncio.run(_read_back())


def test_deploy_all_creates_every_deployment_on_the_pool(deployed: dict[str, Any]) -> None:
    assert set(deployed) == EXPECTED_DEPLOYMENTS
    for deployment, _ in deployed.values():
        assert deployment.work_pool_name == "ccseg-process"
        assert deployment.pull_steps == load_config()["pull"]
    segmentation_queues = {
        deployed[name][0].work_queue_name for name in ("segmentation-scheduled", "on-new-data")
    }
    assert segmentation_queues == {"segmentation"}


def test_deploy_all_attaches_the_schedules(deployed: dict[str, Any]) -> None:
    (daily,) = deployed["segmentation-scheduled"][0].schedules
    (watch,) = deployed["landing-watch"][0].schedules

    assert (daily.schedule.cron, daily.schedule.timezone) == ("0 3 * * *", "UTC")
    assert daily.active and watch.active
    assert watch.schedule.interval.total_seconds() == 300
    for name in ("on-new-data", "scoring", "chatbot-loadtest"):
        assert deployed[name][0].schedules == []


def test_deploy_all_attaches_the_landed_data_trigger_only_where_declared(
    deployed: dict[str, Any],
) -> None:
    (automation,) = deployed["on-new-data"][1]
    (action,) = automation.actions
    (retrain,) = deployed["retrain-on-drift"][1]

    assert automation.trigger.expect == {LANDED_EVENT}
    assert action.parameters == {"data_path": "{{ event.payload.path }}"}
    assert retrain.trigger.expect == {DRIFT_EVENT}
    for name in EXPECTED_DEPLOYMENTS - {"on-new-data", "retrain-on-drift"}:
        assert deployed[name][1] == []


async def _runs_of(deployment_id: Any) -> list[FlowRun]:
    async with get_client() as client:
        return await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )


def test_landed_event_creates_a_segmentation_run_for_the_announced_file(
    deployed: dict[str, Any], tmp_path: Path
) -> None:
    csv = tmp_path / "landed.csv"
    csv.write_text("CUST_ID,BALANCE\nC1,1.0\n")
    deployment_id = deployed["on-new-data"][0].id

    notify(csv)

    deadline = time.monotonic() + 30
    mine: list[FlowRun] = []
    while not mine and time.monotonic() < deadline:
        time.sleep(0.5)
        runs = asyncio.run(_runs_of(deployment_id))
        mine = [r for r in runs if r.parameters.get("data_path") == str(csv.resolve())]
    assert len(mine) == 1, "the trigger did not create a run with data_path from the payload"
