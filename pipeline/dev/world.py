"""Writing a generated world: the sample, shift_sample and third_sample stages share it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pipeline.config import WorldParams
from pipeline.io import staged_dir


def describe(title: str, out: Path, summary: dict[str, dict[str, dict]]) -> str:
    """One line per dump: campaign, label, how many accounts and tweets were written."""
    width = max((len(c) for c in summary), default=0) + 2
    lines = [f"wrote {title} to {out}:"]
    for campaign, labels in summary.items():
        for label, info in labels.items():
            lines.append(f"  {campaign:<{width}} {label:<13} {info['accounts']:>6} accounts {info['tweets']:>8} tweets")
    return "\n".join(lines)


def write_world(generate: Callable[[int, int, Path], dict], params: WorldParams, out: Path, title: str) -> str:
    """Run a world generator into a staging folder and swap it in whole (no half-written world)."""
    with staged_dir(out, create=False) as tmp:
        summary = generate(params.seed, params.n_accounts, tmp)
    return describe(title, out, summary)
