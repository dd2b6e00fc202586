"""The `model_card` stage: the model card from the latest run's metrics, model metadata and params."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.errors import InputError
from pipeline.io import atomic_path
from pipeline.model_card import render_model_card


@dataclass(frozen=True)
class Paths:
    metrics: Path  # reports/metrics.json
    out: Path  # docs/model-card.md
    params_file: Path | None = None  # quoted as written (dumps, split, thresholds)
    metas: Mapping[str, Path] = field(default_factory=dict)  # model name -> meta.json; missing ones are skipped


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from exc


def run(paths: Paths) -> str:
    if not paths.metrics.exists():
        raise InputError(f"{paths.metrics} does not exist; run the evaluate stage first.")
    metrics = _read_json(paths.metrics)
    sources = {"metrics": str(paths.metrics)}
    params: dict = {}
    if paths.params_file is not None and paths.params_file.exists():
        params = yaml.safe_load(paths.params_file.read_text(encoding="utf-8")) or {}
        sources["params"] = str(paths.params_file)
    loaded = {}
    for name, path in paths.metas.items():
        if Path(path).exists():
            loaded[name] = _read_json(Path(path))
            sources[f"meta:{name}"] = str(path)
    text = render_model_card(metrics, params, loaded, sources)
    with atomic_path(paths.out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return f"wrote {paths.out} from {paths.metrics}"
