"""The `shift_sample` stage: a world written by other hands, trained on beside the sample (data.dumps)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import WorldParams
from pipeline.dev.shifted import generate_world
from pipeline.dev.world import write_world


@dataclass(frozen=True)
class Paths:
    out: Path  # data/raw/shift: <campaign>/<label>/ dumps


def run(params: WorldParams, paths: Paths) -> str:
    return write_world(generate_world, params, paths.out, "the shifted world")
