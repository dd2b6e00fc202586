"""The `sample` stage: generate the bundled sample campaigns in the archive format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import SampleParams
from pipeline.dev.sample import generate_sample
from pipeline.dev.world import describe


@dataclass(frozen=True)
class Paths:
    out: Path  # data/raw/sample: <campaign>/<label>/ dumps


def run(params: SampleParams, paths: Paths) -> str:
    return describe("sample dumps", paths.out, generate_sample(params, paths.out))
