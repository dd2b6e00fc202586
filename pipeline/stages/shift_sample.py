"""The `shift_sample` stage: a world written by other hands, trained on beside the sample (data.dumps)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import ShiftParams
from pipeline.dev.shifted import generate_world
from pipeline.io import staged_dir


@dataclass(frozen=True)
class Paths:
    out: Path  # data/raw/shift: <campaign>/<label>/ dumps


def run(params: ShiftParams, paths: Paths) -> str:
    with staged_dir(paths.out, create=False) as tmp:
        summary = generate_world(params.seed, params.n_accounts, tmp)
    lines = [f"wrote the shifted world to {paths.out}:"]
    for campaign, labels in summary.items():
        for label, info in labels.items():
            lines.append(f"  {campaign:<16} {label:<13} {info['accounts']:>6} accounts {info['tweets']:>8} tweets")
    return "\n".join(lines)
