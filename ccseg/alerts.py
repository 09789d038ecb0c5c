"""Notifications for unattended runs: `python -m ccseg.alerts` (part of `make deploy`).

prefect.yaml can only declare triggers that run their own deployment, so the automations that
notify someone are made here, through Prefect's API:

- `ccseg-run-failed`: a segmentation, landed-data, retraining or scoring run that ends Failed
  or Crashed;
- `ccseg-drift`: a scoring run's drift check said `warn` (nobody retrains: look) or `drift`
  (a retraining run was started).

Both send to one `CustomWebhookNotificationBlock` named `ccseg-alerts`, which POSTs
`{"text": "<subject>\\n<body>"}` to CCSEG_ALERT_WEBHOOK_URL: the body a Slack incoming webhook
takes as is; for e-mail, point it at a mail relay's HTTP API. Re-running replaces the block and
both automations (same names), so it is safe to run after every deploy.
"""

from __future__ import annotations

import asyncio
import sys
from uuid import UUID

from prefect.automations import AutomationCore
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import EventTrigger, Posture

from core.settings import load_settings
from tasks.drift.publish import DRIFT_EVENT, SOURCE_LABEL, VERDICT_LABEL

BLOCK_NAME = "ccseg-alerts"
FAILED_AUTOMATION = "ccseg-run-failed"
DRIFT_AUTOMATION = "ccseg-drift"
# Deployments whose failure someone must hear about (prefect.yaml). Manual runs have a person
# watching; the load test reports its own verdicts.
WATCHED_DEPLOYMENTS = ["segmentation-scheduled", "on-new-data", "retrain-on-drift", "scoring"]


def failure_automation(block_id: UUID) -> AutomationCore:
    return AutomationCore(
        name=FAILED_AUTOMATION,
        description="A ccseg run ended Failed or Crashed.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={
                "prefect.resource.role": "deployment",
                "prefect.resource.name": WATCHED_DEPLOYMENTS,
            },
            posture=Posture.Reactive,
            threshold=1,
            within=0,
        ),
        actions=[
            SendNotification(
                block_document_id=block_id,
                subject="ccseg: {{ deployment.name }} run {{ flow_run.name }} is "
                "{{ flow_run.state.name }}",
                body="{{ flow_run.state.message }}",
            )
        ],
    )


def drift_automation(block_id: UUID) -> AutomationCore:
    return AutomationCore(
        name=DRIFT_AUTOMATION,
        description="A scoring run found a batch unlike the champion's training data.",
        trigger=EventTrigger(
            expect={DRIFT_EVENT},
            match={
                "prefect.resource.id": "ccseg.batch.*",
                VERDICT_LABEL: ["warn", "drift"],
                SOURCE_LABEL: "scoring",
            },
            posture=Posture.Reactive,
            threshold=1,
            within=0,
        ),
        actions=[
            SendNotification(
                block_document_id=block_id,
                subject="ccseg drift: {{ event.payload.verdict }} for {{ event.payload.path }}",
                body="{{ event.payload.reasons | join('; ') }} (warn: no retraining, look at "
                "the batch; drift: retrain-on-drift has started). docs/operations.md",
            )
        ],
    )


def save_block(url: str) -> UUID:
    block = CustomWebhookNotificationBlock(
        name=BLOCK_NAME, url=url, method="POST", json_data={"text": "{{subject}}\n{{body}}"}
    )
    return block.save(BLOCK_NAME, overwrite=True)


async def replace_automations(automations: list[AutomationCore]) -> list[UUID]:
    """Delete same-named automations first: Prefect would otherwise keep duplicates."""
    async with get_client() as client:
        created = []
        for automation in automations:
            for old in await client.read_automations_by_name(automation.name):
                await client.delete_automation(old.id)
            created.append(await client.create_automation(automation))
        return created


def set_up_alerts() -> str:
    """Create or replace the block and both automations; a line saying what was done."""
    url = load_settings().alerts.webhook_url
    if not url:
        return (
            "alerts: CCSEG_ALERT_WEBHOOK_URL is not set, so no notifications were set up "
            "(set it and run `python -m ccseg.alerts` again)"
        )
    block_id = save_block(url)
    asyncio.run(replace_automations([failure_automation(block_id), drift_automation(block_id)]))
    return f"alerts: {FAILED_AUTOMATION} and {DRIFT_AUTOMATION} notify {url} (block {BLOCK_NAME})"


def main() -> int:
    try:
        print(set_up_alerts())
    except Exception as exc:  # an operator command: one line and a non-zero exit, no traceback
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        hint = "(is PREFECT_API_URL a running server?)"
        print(f"ccseg.alerts: error: {first} {hint}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
