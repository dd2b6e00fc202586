"""The `third_sample` stage: a world written apart from the sample and the shifted world, to
evaluate on and never to train on (the evaluate stage's "shift" figures)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import ThirdParams
from pipeline.dev.third import generate_world
from pipeline.io import staged_dir


@dataclass(frozen=True)
class Paths:
    out: Path  # data/raw/third: <campaign>/<label>/ dumps and roles.csv


def run(params: ThirdParams, paths: Paths) -> str:
    with staged_dir(paths.out, create=False) as tmp:
        summary = generate_world(params.seed, params.n_accounts, tmp)
    lines = [f"wrote the third world to {paths.out}:"]
    for campaign, labels in summary.items():
        for label, info in labels.items():
            lines.append(f"  {campaign:<22} {label:<13} {info['accounts']:>6} accounts {info['tweets']:>8} tweets")
    return "\n".join(lines)
