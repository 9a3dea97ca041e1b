"""How a number reads on the console and in reports: one formatter for every table and log line."""

from __future__ import annotations

import math

# Wherever a training return and an evaluation return stand side by side (the console, the report).
WHY_RETURNS_DIFFER = ("Training returns come from the stochastic, exploring policy during learning; the evaluation "
                      "runs the greedy (deterministic) policy on fresh, separately seeded episodes, so the two can "
                      "differ widely (a greedy policy can, for one, repeat an action its sampled actions only "
                      "try now and then).")


def number(value: float | None, digits: int = 1, missing: str = "n/a", width: int = 0,
           thousands: bool = False) -> str:
    """``value`` with ``digits`` decimals, right-aligned to ``width``; ``missing`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{missing:>{width}}"
    return f"{value:>{width}{',' if thousands else ''}.{digits}f}"


def duration(seconds: float | None) -> str:
    """``seconds`` as ``m:ss``, or ``h:mm:ss`` from an hour; ``--:--`` for None (an ETA not yet known)."""
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        return "--:--"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def utilisation_line(found: dict[str, float]) -> str:
    """A sweep's ``utilisation`` (summary.json) in words, on the console and in the report: "CPU utilisation 0.93: 2
    CPU(s) busy 2,790 of 3,000 CPU-seconds with trials the sweep needed, from the first trial's start to the last
    one's end"."""
    wasted = found.get("not_needed_cpu_seconds")
    return (f"CPU utilisation {found['value']:.2f}: {found['cpus']:g} CPU(s) busy {found['trial_cpu_seconds']:,.0f} "
            f"of {found['cpus'] * found['wall_seconds']:,.0f} CPU-seconds with trials the sweep needed, from the first "
            f"trial's start to the last one's end" + (f" ({wasted:,.0f} on speculative trials not needed)"
                                                      if wasted else ""))


def tuning_budget(tuning: dict) -> str:
    """What ``--tune`` gave every variant (its ``tuning`` document), on the console and in the report: "each variant
    tuned with 16 settings x 2 seeds x 100,000 steps (1.3 CPU-hours in all)"."""
    steps = " / ".join(f"{n:,}" for n in dict.fromkeys(tuning["timesteps"].values()))
    hours = sum(entry["cpu_seconds"] for entry in tuning["variants"]) / 3600
    seeds = len(tuning["seeds"])
    return (f"each variant tuned with {tuning['settings']} settings x {seeds} seed{'s' if seeds > 1 else ''} x "
            f"{steps} steps ({cpu_hours(hours)} CPU-hours in all)")


def cpu_hours(hours: float) -> str:
    """``0.022``, ``1.0``, ``1.3``, ``123``: two significant figures below 10 (a 1 shown as 1.0), whole hours above."""
    return f"{hours:#.2g}".rstrip(".") if hours < 10 else f"{hours:,.0f}"
