"""A tiny random BERT encoder with its own WordPiece tokenizer, for fast tests.

`build_tiny_encoder(out_dir)` writes, in about a second, a folder laid out like the converted
multilingual-e5-small (`pipeline/encoder/convert.py`): config.json + model.safetensors of a
BertModel without a pooler (2 layers, hidden 32, 2 heads), and a fast tokenizer whose special
ids follow XLM-R's (<s>=0, <pad>=1, </s>=2, <unk>=3, <mask>=4) so code that works on one works
on the other. The WordPiece vocabulary is trained with the `tokenizers` library on a few hundred
built-in lines of mixed Chinese/English text; Chinese characters are split one per token, as
BERT's normaliser does. Weights are random (seeded): the model knows nothing, which is what a
test that checks that fine-tuning learns wants.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.encoder.convert import PAD_TOKEN_ID
from pipeline.io import staged_dir

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4, XLM-R's order
VOCAB_SIZE = 1200
HIDDEN = 32
LAYERS = 2
HEADS = 2
INTERMEDIATE = 64
MAX_POSITION = 512

_ZH = [
    "香港", "警察", "维护", "社会", "秩序", "今天", "天气", "很好", "我们", "去", "公园", "散步",
    "支持", "政府", "依法", "施政", "反对", "暴力", "新疆", "棉花", "人民", "生活", "幸福", "谎言",
    "抹黑", "外交部", "发言人", "证据", "抗疫", "武汉", "加油", "中国", "美国", "媒体", "真相", "世界",
    "周末", "想", "看电影", "朋友", "咖啡", "学习", "工作", "旅行", "家乡", "美食", "音乐", "示威",
]
_EN = [
    "the", "police", "maintain", "order", "in", "hong", "kong", "protesters", "rioters", "government",
    "people", "happy", "life", "lies", "media", "truth", "world", "weekend", "movie", "friends",
    "coffee", "study", "work", "travel", "music", "food", "city", "news", "report", "today", "weather",
    "good", "support", "against", "violence", "cotton", "xinjiang", "covid", "virus", "vaccine",
]
_PUNCT = ["，", "。", "！", "？", ",", ".", "!", "?", " #HongKong", " #COVID19", " URL", " @user"]


def corpus(n_lines: int = 400, seed: int = 0) -> list[str]:
    """Deterministic mixed Chinese/English lines from the built-in word lists."""
    import random

    rng = random.Random(seed)
    lines = []
    for i in range(n_lines):
        zh = "".join(rng.choice(_ZH) for _ in range(rng.randint(2, 8)))
        en = " ".join(rng.choice(_EN) for _ in range(rng.randint(2, 10)))
        parts = [zh, en] if i % 2 else [en, zh]
        lines.append(parts[0] + rng.choice(_PUNCT) + " " + parts[1] + rng.choice(_PUNCT))
    return lines


def train_tokenizer(lines: list[str], vocab_size: int = VOCAB_SIZE):
    """A WordPiece `tokenizers.Tokenizer` with BERT normalisation and <s> $A </s> framing."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="<unk>", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False)
    tok.train_from_iterator(lines, trainer=trainer)
    for i, t in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(t) == i, f"special token {t} is not id {i}"
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    from tokenizers import decoders

    tok.decoder = decoders.WordPiece()
    return tok


def build_tiny_encoder(out_dir: Path, seed: int = 0) -> Path:
    """Write the tiny encoder folder to out_dir (atomically) and return it."""
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with staged_dir(out_dir) as tmp:
        lines = corpus(seed=seed)
        tok = train_tokenizer(lines)
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
            pad_token="<pad>", unk_token="<unk>", mask_token="<mask>", model_max_length=MAX_POSITION,
        )
        fast.save_pretrained(tmp)
        config = BertConfig(
            vocab_size=tok.get_vocab_size(), hidden_size=HIDDEN, num_hidden_layers=LAYERS,
            num_attention_heads=HEADS, intermediate_size=INTERMEDIATE, max_position_embeddings=MAX_POSITION,
            type_vocab_size=2, pad_token_id=PAD_TOKEN_ID, hidden_act="gelu",
        )
        config.statelink = {
            "source": {"tiny": {"seed": seed, "corpus_lines": len(lines)}},
            "pooler": "none: load with add_pooling_layer=False (pipeline.encoder.convert.load_encoder)",
            "pooling": "mean over attention_mask of last_hidden_state",
            "prefixes": {"query": "", "passage": ""},
        }
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=False)
        model.save_pretrained(tmp, safe_serialization=True)
        (tmp / "tiny.json").write_text(
            json.dumps({"seed": seed, "n_params": sum(p.numel() for p in model.parameters())}, indent=2) + "\n",
            encoding="utf-8",
        )
    return out_dir
