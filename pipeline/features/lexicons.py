"""Narrative lexicons and character sets for the text features, with their sources.

Terms are the narratives' own words as the public record quotes them, in Simplified and
Traditional Chinese and in English. English terms are matched lower-cased, as substrings
(so "rioter" also matches "rioters"). A term belongs here only if a disclosure or a
published analysis of the network quotes it:

- HK: Twitter, "Information operations directed at Hong Kong" (Aug 2019); ASPI, "Tweeting
  through the great firewall" (Uren, Thomas, Wallis, 2019): protesters as rioters (暴徒),
  cockroaches (曱甴/蟑螂) and "useless youth" (廢青), a "black hand" of foreign forces behind
  them, support for the police, "stop violence, end chaos" (止暴制亂).
- COVID: ASPI, "Retweeting through the great firewall" (Wallis et al., 2020); Graphika,
  "Spamouflage goes to America" (2020); Twitter, June 2020 China release: China as a
  "responsible major country" (负责任大国), the Fort Detrick lab origin story (德特里克堡),
  "set aside political bias" (放下政治偏见), the US "shifting the blame" (甩锅).
- Guo: Graphika, "Spamouflage" (Nimmo et al., 2019-2020); ASPI 2020: attacks on the
  exiled businessman Guo Wengui (郭文贵), "Miles Guo", as a liar and fugitive, and on Steve
  Bannon (班农) beside him.
- Xinjiang: ASPI, "Strange bedfellows on Xinjiang" (Zhang et al., 2021); Twitter, Dec 2021
  release (CNHU): "vocational (skills) education and training centres", "genocide lie",
  "Xinjiang is a good place" (新疆是个好地方), attacks on researcher Adrian Zenz (郑国恩).
"""

from __future__ import annotations

LEXICONS: dict[str, tuple[str, ...]] = {
    "hk": (
        "暴徒", "废青", "廢青", "蟑螂", "曱甴", "黑手", "外国势力", "外國勢力", "港独", "港獨",
        "止暴制乱", "止暴制亂", "支持香港警察", "撑警", "撐警", "乱港", "亂港",
        "rioter", "black hand", "foreign interference", "foreign forces", "support the police",
        "support hong kong police", "hong kong independence", "stop violence",
    ),
    "covid": (
        "负责任大国", "負責任大國", "德特里克", "放下政治偏见", "放下政治偏見", "甩锅", "甩鍋",
        "美国病毒", "美國病毒", "病毒溯源",
        "responsible major country", "responsible big country", "fort detrick",
        "political bias", "shifting the blame", "shift the blame", "origin of the virus",
    ),
    "guo": (
        "郭文贵", "郭文貴", "文贵", "郭骗子", "郭騙子", "班农", "班農",
        "guo wengui", "miles guo", "guo wen gui", "bannon",
    ),
    "xinjiang": (
        "职业技能教育培训", "職業技能教育培訓", "教培中心", "去极端化", "去極端化", "种族灭绝谎言",
        "種族滅絕謊言", "新疆是个好地方", "新疆是個好地方", "郑国恩", "鄭國恩", "反华势力", "反華勢力",
        "vocational training", "vocational education", "genocide lie", "lies about xinjiang",
        "xinjiang is a good place", "adrian zenz", "anti-china forces",
    ),
}

# Characters written differently in the two scripts: a Traditional form here, its Simplified
# form at the same position below. Only pairs where neither form is used in the other script.
TRADITIONAL_CHARS = "們這個國說為會來對時與從發開關見長問過還經業東車區實現學點體麼讓議應戰協黨員總軍難覺機陳華灣亞歐無產態豐齊藝術雙聽錢權斷醫傳導"
SIMPLIFIED_CHARS = "们这个国说为会来对时与从发开关见长问过还经业东车区实现学点体么让议应战协党员总军难觉机陈华湾亚欧无产态丰齐艺术双听钱权断医传导"

# Camouflage: the non-political filler that keeps accounts looking organic (Twitter's 2019
# and 2021 China releases; ASPI 2019: "spam, K-pop, inspirational quotes"; the real CNHU
# sample: proverbs, classical poems, textbook sentences). Markers of quoted wisdom and
# motivational filler, Simplified and Traditional.
CAMOUFLAGE_MARKERS: tuple[str, ...] = (
    "俗话说", "俗話說", "古人云", "名言", "谚语", "諺語", "成语", "成語", "人生", "努力", "坚持", "堅持",
    "梦想", "夢想", "幸福", "早安", "晚安", "心灵鸡汤", "心靈雞湯", "唐李白", "唐杜甫", "宋苏轼", "宋蘇軾",
    "proverb", "as the saying goes", "quote of the day", "good morning", "good night",
)
