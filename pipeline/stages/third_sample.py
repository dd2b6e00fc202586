"""The `third_sample` stage: a world written apart from the sample and the shifted world, to
evaluate on and never to train on (the evaluate stage's "shift" figures)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import WorldParams
from pipeline.dev.third import generate_world
from pipeline.dev.world import write_world


@dataclass(frozen=True)
class Paths:
    out: Path  # data/raw/third: <campaign>/<label>/ dumps and roles.csv


def run(params: WorldParams, paths: Paths) -> str:
    return write_world(generate_world, params, paths.out, "the third world")
