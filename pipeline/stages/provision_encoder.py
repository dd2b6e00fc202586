"""The `provision_encoder` stage: the base encoder in a standard local folder."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import EncoderParams
from pipeline.encoder.provision import provision_encoder


@dataclass(frozen=True)
class Paths:
    out: Path  # a transformers BertModel folder


def run(params: EncoderParams, paths: Paths) -> str:
    t0 = time.perf_counter()
    path = provision_encoder(params.base_model, paths.out, params.base_layers)
    return f"provisioned encoder '{params.base_model}' in {path} ({time.perf_counter() - t0:.0f} s)"
