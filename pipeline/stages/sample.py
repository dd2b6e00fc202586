"""The `sample` stage: generate the bundled sample campaigns in the archive format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import SampleParams
from pipeline.dev.sample import generate_sample


@dataclass(frozen=True)
class Paths:
    out: Path  # data/raw/sample: <campaign>/<label>/ dumps


def run(params: SampleParams, paths: Paths) -> str:
    summary = generate_sample(params, paths.out)
    lines = [f"wrote sample dumps to {paths.out}:"]
    for campaign, labels in summary.items():
        for label, info in labels.items():
            lines.append(f"  {campaign:<14} {label:<13} {info['accounts']:>6} accounts {info['tweets']:>8} tweets")
    return "\n".join(lines)
