"""The load test's figure: latency percentiles and answer shares against the offered rate.

Built on `matplotlib.figure.Figure` (no pyplot state), like the report's figures: no display
or global figure registry is needed on a worker.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from tasks.loadtest.summary import NO_ANSWER, StepSummary

LATENCY_LINES = ("p50", "p90", "p95", "p99", "max")
SHARE_GROUPS = (
    ("answered (200)", lambda status: status == "200"),
    ("429", lambda status: status == "429"),
    ("503", lambda status: status == "503"),
    ("other status", lambda status: status not in {"200", "429", "503", NO_ANSWER}),
    ("no answer", lambda status: status == NO_ANSWER),
)


def status_shares(step: StepSummary) -> dict[str, float]:
    """Share of the step's ordinary requests in each answer group (they sum to 1)."""
    total = sum(step.status_counts.values()) or 1
    return {
        label: sum(n for status, n in step.status_counts.items() if belongs(status)) / total
        for label, belongs in SHARE_GROUPS
    }


def ramp_figure(
    steps: Sequence[StepSummary], slo_p95_ms: float, knee_per_minute: float | None
) -> Figure:
    """Two panels over the offered rate (log scale): latency percentiles, then answer shares."""
    rates = [step.offered_per_minute for step in steps]
    figure = Figure(figsize=(9, 7), layout="constrained")
    latency_axes, share_axes = figure.subplots(2, 1, sharex=True)
    for name in LATENCY_LINES:
        values = [step.latency_ms[name] for step in steps]
        latency_axes.plot(rates, values, marker="o", label=name)
    refusal_p99 = [step.refusal_p99_ms for step in steps]
    if any(value is not None for value in refusal_p99):
        latency_axes.plot(rates, refusal_p99, marker="x", linestyle="--", label="refusal p99")
    latency_axes.axhline(slo_p95_ms, color="black", linestyle="--", linewidth=1, label="SLO p95")
    latency_axes.set_yscale("log")
    latency_axes.set_ylabel("latency from scheduled send (ms)")
    latency_axes.set_title("Chat service under an open-loop ramp")
    shares = [status_shares(step) for step in steps]
    bottom = [0.0] * len(steps)
    for label, _ in SHARE_GROUPS:
        heights = [share[label] for share in shares]
        share_axes.bar(
            rates, heights, bottom=bottom, width=[rate * 0.4 for rate in rates], label=label
        )
        bottom = [low + height for low, height in zip(bottom, heights, strict=True)]
    share_axes.set_ylabel("share of ordinary requests")
    share_axes.set_ylim(0, 1)
    share_axes.set_xscale("log")
    share_axes.set_xlabel("offered rate (requests per minute)")
    share_axes.set_xticks(rates, [f"{rate:g}" for rate in rates])
    share_axes.minorticks_off()
    for axes in (latency_axes, share_axes):
        if knee_per_minute is not None:
            axes.axvline(knee_per_minute, color="grey", linestyle=":", linewidth=1)
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    return figure
