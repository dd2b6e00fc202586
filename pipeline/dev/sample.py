"""Bundled sample data: three synthetic campaigns in the information-operations archive format.

`generate_sample(params, out_dir)` writes, for each campaign, a state-linked (IO) dump and a
topic- and time-matched control dump, in the exact formats the loader must read (see
../shared/real-samples/README.md and docs/DESIGN.md "Data contract"):

    out_dir/hk_2019/{state_linked,control}/        Twitter's Aug 2019 China release (Hong Kong)
    out_dir/covid_2020/{state_linked,control}/     the June 2020 china_052020 release (COVID-19)
    out_dir/xinjiang_2021/{state_linked,control}/  the Dec 2021 CNHU release (Xinjiang)

The data is synthetic but follows the public record, because the model trained on it is
later run on real releases it never saw. The main rule: NO SINGLE generator quirk separates
the classes. Every behavioural trait of the IO accounts (batch creation, office hours, web
client, empty profiles, few followers, copy-paste text) also occurs in some control persona
that is a known false positive in the literature (news bots, brand-new organic accounts,
journalists quoting the narratives, organic nationalists copy-pasting), and a share of IO
accounts break type. tests/test_sample.py checks single-feature ROC-AUCs stay below 0.9.
Text: organic posts are composed per person from clause grammars (life events, stances,
reactions; each account's own openers, remarks, emoji, code-switching), so near-duplicates
among controls come only from shared headlines, news feeds, greetings, slogans, quotes and
organic copy-paste; IO posts draw on a per-campaign message bank reused with small edits.

Sources the choices follow (cited briefly where used):
  [TW19]  Twitter Safety, "Information operations directed at Hong Kong", Aug 2019.
  [TW20]  Twitter Safety, "Disclosing networks of state-linked information operations", Jun 2020.
  [TW21]  Twitter Safety, "Disclosing state-linked information operations", Dec 2021 (CNHU/CNCC).
  [ASPI20] ASPI, "Retweeting through the great firewall", Jun 2020 (analysis of china_052020).
  [SIO20] Stanford Internet Observatory, "Sockpuppets spin COVID yarns", Jun 2020.
  [SIO19] Stanford Internet Observatory, "Hong Kong protests: Twitter takedown", Aug 2019.
  [ASPI21] ASPI, "Strange bedfellows on Xinjiang: the CCP, fringe media and US social media
           platforms", 2021; SIO/Graphika notes on the Dec 2021 CNHU set.
  [REAL]  the real sample files in ../shared/real-samples (format and distributions only).

Pipeline of small functions: personas -> accounts -> tweets (originals, then retweets /
replies / quotes that point at them) -> rows -> writers. Everything is drawn from one
`numpy.random.Generator` and one `random.Random` per campaign, both seeded from
`params.seed`, and no output depends on set or hash ordering, so the same seed gives
byte-identical files (gzip and zip headers carry fixed timestamps).
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import random
import time
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from pipeline.config import SampleParams
from pipeline.io import atomic_path
from pipeline.schema import TWEETS_COLUMNS, USERS_COLUMNS

IO, CONTROL = "state_linked", "control"
_TWITTER_EPOCH_MS = 1288834974657  # snowflake epoch (tweet and, since 2016, user ids)
# The new web app replaced "Twitter Web Client" in mid 2019 (client names in the releases).
_WEB_APP_LAUNCH_TS = int(datetime(2019, 7, 15, tzinfo=timezone.utc).timestamp())


# --------------------------------------------------------------------------------------
# Campaigns and dump formats
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DumpFormat:
    """How one dump is packaged; varied across dumps as real releases are [REAL]."""

    users_file: str | None  # None: a tweets-only dump (API JSONL controls)
    tweets_stem: str
    packaging: str  # "csv" | "parts" | "gz" | "zip" | "jsonl"
    true_false: tuple[str, str]  # is_retweet spelling: True/False or true/false [REAL]
    float_quote_share: float  # quoted_tweet_tweetid written as a float (precision lost) [REAL]
    empty_list_share: float  # list columns written empty instead of "[]" [REAL]


@dataclass(frozen=True)
class Campaign:
    name: str
    start: date
    end: date
    month_weights: dict[tuple[int, int], float]  # activity profile of the window
    io_share: float  # share of IO accounts in the campaign (brief: 35-45 %)
    poll_choices: bool  # releases before 2021 carry a poll_choices column [REAL]
    io_lang: dict[str, float]  # IO originals: zh (Simplified) / zht (Traditional) / en
    io_personas: dict[str, float]
    control_personas: dict[str, float]
    io_format: DumpFormat
    control_format: DumpFormat


CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign(
        name="hk_2019",
        # [TW19][SIO19]: activity ramps up with the June 2019 protests and peaks Jul-Aug.
        start=date(2019, 4, 1),
        end=date(2019, 9, 30),
        month_weights={(2019, 4): 0.3, (2019, 5): 0.5, (2019, 6): 1.2, (2019, 7): 1.6, (2019, 8): 1.8, (2019, 9): 1.0},
        io_share=0.40,
        poll_choices=True,
        io_lang={"zh": 0.62, "zht": 0.10, "en": 0.28},
        # [TW19][SIO19]: many old accounts repurposed (bought) from spam/other languages.
        io_personas={"core": 0.31, "repurposed": 0.25, "amplifier": 0.18, "camouflage": 0.08, "breaker": 0.18},
        control_personas={"patriot": 0.24, "journalist": 0.12, "news_bot": 0.09, "opposition": 0.24,
                          "new_organic": 0.2, "ordinary": 0.11},
        io_format=DumpFormat("china_082019_1_users_csv_hashed.csv", "china_082019_1_tweets_csv_hashed",
                             "parts", ("True", "False"), 0.0, 0.02),
        control_format=DumpFormat("hk_2019_control_users_csv_hashed.csv", "hk_2019_control_tweets_csv_hashed",
                                  "gz", ("true", "false"), 0.0, 0.02),
    ),
    Campaign(
        name="covid_2020",
        # [TW20][SIO20]: COVID narratives Jan-May 2020, peaking Mar-Apr.
        start=date(2020, 1, 15),
        end=date(2020, 5, 31),
        month_weights={(2020, 1): 0.5, (2020, 2): 1.0, (2020, 3): 1.6, (2020, 4): 1.6, (2020, 5): 1.1},
        io_share=0.42,
        poll_choices=True,
        io_lang={"zh": 0.70, "zht": 0.06, "en": 0.24},
        # [ASPI20]: 23,750 core accounts plus ~150,000 amplifiers that retweeted them.
        io_personas={"core": 0.31, "repurposed": 0.11, "amplifier": 0.30, "camouflage": 0.10, "breaker": 0.18},
        control_personas={"patriot": 0.24, "journalist": 0.12, "news_bot": 0.09, "opposition": 0.10,
                          "new_organic": 0.2, "ordinary": 0.25},
        io_format=DumpFormat("china_052020_users_csv_hashed.csv", "china_052020_tweets_csv_hashed",
                             "zip", ("true", "false"), 0.05, 0.0),
        # Controls hydrated through the v1.1 API (how public COVID-19 tweet-id datasets are used).
        control_format=DumpFormat(None, "covid_2020_control_tweets", "jsonl", ("true", "false"), 0.0, 0.0),
    ),
    Campaign(
        name="xinjiang_2021",
        # [TW21]: CNHU tweets span 2020 to early 2021 (cotton/BCI row in March 2021).
        start=date(2020, 1, 1),
        end=date(2021, 5, 31),
        month_weights={**{(2020, m): 0.6 + 0.05 * m for m in range(1, 13)},
                       (2021, 1): 1.2, (2021, 2): 1.2, (2021, 3): 1.8, (2021, 4): 1.5, (2021, 5): 1.0},
        io_share=0.38,
        poll_choices=False,
        io_lang={"zh": 0.50, "zht": 0.05, "en": 0.45},
        # [TW21][REAL CNHU sample]: most CNHU posts are camouflage (proverbs, poems, small talk).
        io_personas={"core": 0.21, "repurposed": 0.07, "amplifier": 0.14, "camouflage": 0.40, "breaker": 0.18},
        control_personas={"patriot": 0.24, "journalist": 0.13, "news_bot": 0.09, "opposition": 0.16,
                          "new_organic": 0.2, "ordinary": 0.18},
        io_format=DumpFormat("CNHU_0621_users_csv_hashed.csv", "CNHU_0621_tweets_csv_hashed",
                             "csv", ("True", "False"), 1.0, 0.0),
        control_format=DumpFormat("xinjiang_2021_control_users_csv_hashed.csv",
                                  "xinjiang_2021_control_tweets_csv_hashed", "csv", ("true", "false"), 1.0, 0.0),
    ),
)


# --------------------------------------------------------------------------------------
# Personas
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Persona:  # fields after `label` are passed by keyword in PERSONAS
    name: str
    label: str
    creation: str  # batch | old | organic | recent | bot
    followers: tuple[float, float]  # lognormal (median, sigma): heavy-tailed
    following: tuple[float, float]
    schedule: tuple[tuple[str, float], ...]  # main hour profile(s), blended per account with a diurnal one
    blend: tuple[float, float]  # Beta(a, b) weight of the generic profile: type-breaking
    tz: tuple[tuple[int, float], ...]
    clients: tuple[tuple[str, float], ...]  # "WEB" expands to the web client of the date
    retweet: tuple[float, float]  # Beta(a, b) share of retweets
    reply: float
    quote: float
    content: tuple[tuple[str, float], ...]  # what the originals are
    profile: float  # probability the description is filled
    engagement: float  # median likes per original tweet
    activity: float  # relative tweet volume
    history: float  # share of tweets posted before the campaign window
    hashed_rate: float  # probability an account under 5000 followers is hashed


_P = Persona
_PHONES = (("Twitter for iPhone", 0.38), ("Twitter for Android", 0.27), ("WEB", 0.35))
PERSONAS: dict[str, Persona] = {
    p.name: p
    for p in (
        # IO core: batch-created, empty profile, < 10 followers, web client, Beijing office
        # hours (some on longer shifts), narrative templates with small edits
        # [TW19][TW20][ASPI20][SIO20].
        _P("core", IO, creation="batch", followers=(3, 1.2), following=(30, 1.5),
           schedule=(("office", 0.7), ("work", 0.3)), blend=(2, 4), tz=((8, 1.0),),
           clients=(("WEB", 0.82), ("Twitter for Android", 0.1), ("Twitter for iPhone", 0.08)),
           retweet=(1, 12), reply=0.06, quote=0.03,
           content=(("narrative", 0.75), ("camouflage", 0.15), ("daily", 0.10)),
           profile=0.2, engagement=0.05, activity=1.0, history=0.0, hashed_rate=0.45),
        # Old accounts bought/repurposed: created years earlier, earlier spam or posts in
        # Spanish/Russian/Indonesian, some with tens of thousands of (bought) followers
        # [TW19][SIO19][REAL users file: 2009-2015 accounts with es/ru account languages].
        _P("repurposed", IO, creation="old", followers=(40, 3.0), following=(60, 1.3),
           schedule=(("office", 0.7), ("work", 0.3)), blend=(2, 3), tz=((8, 1.0),),
           clients=(("WEB", 0.75), ("Twitter for Android", 0.13), ("Twitter for iPhone", 0.12)),
           retweet=(1, 8), reply=0.05, quote=0.03,
           content=(("narrative", 0.8), ("camouflage", 0.1), ("daily", 0.1)),
           profile=0.55, engagement=0.3, activity=1.2, history=0.30, hashed_rate=0.45),
        # Amplifiers: retweet core tweets within minutes [ASPI20].
        _P("amplifier", IO, creation="batch", followers=(2, 1.3), following=(25, 1.5),
           schedule=(("office", 0.7), ("work", 0.3)), blend=(2, 4), tz=((8, 1.0),),
           clients=(("WEB", 0.8), ("Twitter for Android", 0.12), ("Twitter for iPhone", 0.08)),
           retweet=(12, 1.5), reply=0.02, quote=0.0,
           content=(("narrative", 0.6), ("camouflage", 0.3), ("daily", 0.1)),
           profile=0.08, engagement=0.02, activity=1.0, history=0.0, hashed_rate=0.5),
        # Camouflage-heavy accounts: proverbs, poems, motivational quotes, small talk, with the
        # odd narrative tweet [TW21][REAL CNHU sample].
        _P("camouflage", IO, creation="batch", followers=(2, 1.3), following=(8, 1.0),
           schedule=(("office", 0.7), ("work", 0.3)), blend=(2, 4), tz=((8, 1.0),),
           clients=(("WEB", 0.88), ("Twitter for Android", 0.06), ("Twitter for iPhone", 0.06)),
           retweet=(1, 20), reply=0.02, quote=0.02,
           content=(("camouflage", 0.7), ("narrative", 0.2), ("daily", 0.1)),
           profile=0.10, engagement=0.05, activity=0.8, history=0.0, hashed_rate=0.6),
        # Type-breakers: mobile clients, evening hours, some followers and engagement
        # (operators on phones; accounts that built small audiences, created like ordinary
        # accounts, with filled-in personal profiles) [SIO20][ASPI20].
        _P("breaker", IO, creation="organic", followers=(150, 1.8), following=(120, 1.2),
           schedule=(("evening", 0.6), ("diurnal", 0.4)), blend=(2, 2), tz=((8, 1.0),),
           clients=(("Twitter for Android", 0.45), ("Twitter for iPhone", 0.35), ("WEB", 0.2)),
           retweet=(2, 6), reply=0.10, quote=0.05,
           content=(("narrative", 0.6), ("daily", 0.3), ("camouflage", 0.1)),
           profile=0.75, engagement=0.8, activity=1.0, history=0.1, hashed_rate=0.5),
        # Controls -------------------------------------------------------------------------
        # Organic pro-Beijing users (mainland VPN users, diaspora): same hashtags and narratives,
        # personal text, mobile, evenings and weekends, though many post from work; some
        # copy-paste (the Aug 2019 "Diba expedition" flooded Twitter with organic copy-paste
        # nationalist posts [SIO19]).
        _P("patriot", CONTROL, creation="organic", followers=(120, 1.8), following=(180, 1.1),
           schedule=(("work", 0.35), ("office", 0.15), ("evening", 0.35), ("diurnal", 0.15)), blend=(2, 3),
           tz=((8, 0.65), (-4, 0.1), (1, 0.1), (10, 0.1), (-7, 0.05)), clients=_PHONES,
           retweet=(2, 4), reply=0.12, quote=0.04,
           content=(("patriot", 0.6), ("copypaste", 0.12), ("daily", 0.28)),
           profile=0.5, engagement=1.0, activity=1.0, history=0.15, hashed_rate=0.45),
        # Journalists / researchers quoting the narratives; HK/Beijing-based ones keep UTC+8
        # office hours on the web client.
        _P("journalist", CONTROL, creation="organic", followers=(3000, 1.6), following=(900, 1.0),
           schedule=(("work", 1.0),), blend=(1.5, 3), tz=((8, 0.55), (0, 0.15), (-4, 0.2), (1, 0.1)),
           clients=(("WEB", 0.5), ("TweetDeck", 0.2), ("Twitter for iPhone", 0.3)),
           retweet=(2, 5), reply=0.15, quote=0.12,
           content=(("journalist", 0.8), ("daily", 0.2)),
           profile=0.95, engagement=8.0, activity=1.3, history=0.1, hashed_rate=0.25),
        # Automated news feeds: regular intervals around the clock, one client, links and
        # hashtags, copy-identical headline templates: a classic false positive.
        _P("news_bot", CONTROL, creation="bot", followers=(400, 2.2), following=(5, 1.5),
           schedule=(("uniform", 1.0),), blend=(1, 30), tz=((0, 1.0),),
           clients=(("dlvr.it", 0.3), ("IFTTT", 0.25), ("WEB", 0.25), ("Buffer", 0.2)),
           retweet=(1, 40), reply=0.0, quote=0.0, content=(("news", 1.0),),
           profile=0.8, engagement=0.1, activity=2.5, history=0.0, hashed_rate=0.45),
        # Opposition: HK protest supporters (Traditional Chinese + English), Uyghur advocates.
        _P("opposition", CONTROL, creation="organic", followers=(90, 2.0), following=(300, 1.1),
           schedule=(("evening", 0.7), ("work", 0.2), ("diurnal", 0.1)), blend=(2, 3),
           tz=((8, 0.7), (-4, 0.1), (1, 0.1), (10, 0.1)),
           clients=(("Twitter for iPhone", 0.5), ("Twitter for Android", 0.25), ("WEB", 0.25)),
           retweet=(4, 3), reply=0.1, quote=0.06, content=(("opposition", 0.75), ("daily", 0.25)),
           profile=0.6, engagement=2.0, activity=1.1, history=0.1, hashed_rate=0.45),
        # Brand-new organic accounts with few followers, empty profiles, default handles, web
        # client: look like IO core accounts (a typical false positive). Many are mainland users
        # who registered during a news spike and tweet from the office (Beijing time): for many
        # mainland users the workplace VPN on a desktop browser is their only way onto Twitter,
        # so their posting is confined to office hours on the web client, like IO staff.
        _P("new_organic", CONTROL, creation="recent", followers=(4, 1.2), following=(30, 1.3),
           schedule=(("office", 0.3), ("work", 0.35), ("diurnal", 0.2), ("evening", 0.15)), blend=(2, 3),
           tz=((8, 0.85), (-4, 0.1), (1, 0.05)),
           clients=(("WEB", 0.55), ("Twitter for Android", 0.25), ("Twitter for iPhone", 0.2)),
           retweet=(1, 6), reply=0.15, quote=0.03,
           content=(("patriot", 0.4), ("ordinary", 0.3), ("daily", 0.3)),
           profile=0.2, engagement=0.1, activity=0.6, history=0.0, hashed_rate=0.5),
        # Ordinary people posting on the topic among everything else.
        _P("ordinary", CONTROL, creation="organic", followers=(40, 2.0), following=(120, 1.4),
           schedule=(("diurnal", 0.5), ("work", 0.35), ("evening", 0.15)), blend=(2, 2),
           tz=((8, 0.55), (-4, 0.15), (0, 0.1), (1, 0.1), (10, 0.1)), clients=_PHONES,
           retweet=(2, 5), reply=0.15, quote=0.03,
           content=(("ordinary", 0.5), ("daily", 0.4), ("quotes", 0.1)),
           profile=0.5, engagement=0.5, activity=0.9, history=0.2, hashed_rate=0.45),
    )
}

# Hour-of-day weights in local time, and weekday weights (Mon..Sun).
_SCHEDULES: dict[str, tuple[list[float], list[float]]] = {
    # Beijing office: 09-18 weekdays with a lunch dip [SIO20][ASPI20].
    # Overtime and scheduled posts leave a trickle outside office hours.
    "office": ([0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.4, 1, 1, 1, 0.35, 0.55, 1, 1, 1, 0.9, 0.35, 0.1, 0.08, 0.05, 0.03, 0.01],
               [1, 1, 1, 1, 1, 0.08, 0.05]),
    "evening": ([0.5, 0.3, 0.1, 0.03, 0.02, 0.02, 0.05, 0.2, 0.3, 0.2, 0.2, 0.25, 0.5, 0.35, 0.2, 0.2, 0.25, 0.35,
                 0.7, 0.9, 1, 1, 0.95, 0.8], [0.9, 0.9, 0.9, 0.9, 1, 1.4, 1.4]),
    "work": ([0.05, 0.02, 0.01, 0.01, 0.01, 0.02, 0.1, 0.3, 0.7, 1, 1, 1, 0.8, 0.9, 1, 1, 1, 0.9, 0.7, 0.5, 0.4, 0.35,
              0.25, 0.1], [1, 1, 1, 1, 1, 0.45, 0.4]),
    "diurnal": ([0.2, 0.1, 0.05, 0.02, 0.02, 0.03, 0.15, 0.4, 0.6, 0.65, 0.6, 0.65, 0.8, 0.7, 0.6, 0.6, 0.6, 0.7, 0.8,
                 0.9, 1, 1, 0.8, 0.5], [1, 1, 1, 1, 1, 1.15, 1.15]),
    "uniform": ([1.0] * 24, [1.0] * 7),
}


# --------------------------------------------------------------------------------------
# Text pools. Written for this sample (no rows copied from the real releases).
# --------------------------------------------------------------------------------------

_SLOTS: dict[str, list[str]] = {
    "thugs": ["暴徒", "黑衣暴徒", "乱港分子", "港独分子", "极少数暴徒"],
    "foreign": ["美国", "西方", "外国势力", "美英政客", "某些西方政客"],
    "media": ["西方媒体", "部分外媒", "某些媒体", "CNN和BBC"],
    "media_en": ["Western media", "CNN and the BBC", "Some foreign outlets", "The mainstream media"],
    "end": ["", "", "！", "!!!", "。", "！！", "…", "。。"],
    "end_en": ["", "", "!", "!!!", ".", "..", " !"],
    "thugs_en": ["rioters", "violent rioters", "thugs", "black-clad rioters", "radicals"],
    "district": ["旺角", "銅鑼灣", "尖沙咀", "沙田", "元朗", "金鐘", "灣仔", "荃灣", "屯門", "大埔"],
    "district_en": ["Mong Kok", "Causeway Bay", "Tsim Sha Tsui", "Sha Tin", "Yuen Long", "Admiralty", "Wan Chai",
                    "Tsuen Wan", "Tuen Mun", "Tai Po"],
    "country_en": ["Italy", "Spain", "Iran", "South Korea", "the UK", "France", "Germany", "the US", "Japan",
                   "Singapore", "Australia", "Canada"],
    "country": ["意大利", "西班牙", "伊朗", "韩国", "英国", "法国", "德国", "美国", "日本", "新加坡"],
    "city": ["喀什", "和田", "伊宁", "阿克苏", "吐鲁番", "乌鲁木齐"],
    "city_en": ["Kashgar", "Hotan", "Ghulja", "Aksu", "Turpan", "Urumqi"],
}

# IO narrative templates per campaign and language; accounts re-use them with small edits
# (copy-paste with small edits across accounts [TW19][SIO20][ASPI20]).
_IO_TEXT: dict[str, dict[str, list[str]]] = {
    "hk_2019": {
        "zh": ["{thugs}的暴行必须受到法律严惩，香港不能再乱下去了{end}",
               "支持香港警察严正执法，我撑香港警察{end}",
               "{foreign}的黑手伸向香港，目的就是搞乱香港、遏制中国{end}",
               "止暴制乱、恢复秩序是香港当前最紧迫的任务{end}",
               "所谓和平示威就是打砸抢烧，{thugs}和恐怖分子有什么区别？",
               "香港是中国的香港，不容任何外部势力干预{end}",
               "反对派头目拿着外国护照，背后是谁在撑腰，大家心里都清楚{end}",
               "一小撮{thugs}冲击立法会、破坏公物，这是赤裸裸的违法行为{end}",
               "香港市民渴望安宁，请还香港一个太平{end}",
               "{media}歪曲报道，颠倒黑白，把{thugs}说成民主斗士，真是可笑{end}",
               "郭文贵就是一个骗子，骗了多少人的血汗钱{end}",
               "警察叔叔辛苦了，你们守护的是全体香港市民{end}"],
        "zht": ["反對暴力，守護香港{end}", "支持警察嚴正執法，止暴制亂{end}",
                "{thugs}破壞香港，市民忍無可忍{end}", "外國勢力停止干預香港事務{end}"],
        "en": ["The {thugs_en} in Hong Kong are not protesters. Restore order now{end_en}",
               "Foreign forces are behind the chaos in Hong Kong. The black hands must stop{end_en}",
               "Support the Hong Kong police! They protect the city from {thugs_en}{end_en}",
               "Hong Kong is part of China. No foreign interference{end_en}",
               "What kind of peaceful protest throws petrol bombs at the police{end_en}",
               "Ordinary people in Hong Kong just want peace and stability{end_en}",
               "Western media call the {thugs_en} heroes. Shameful double standards{end_en}"],
    },
    "covid_2020": {
        "zh": ["中国在抗击疫情中展现了负责任大国的担当{end}",
               "病毒起源尚无定论，美国德特里克堡生物实验室为何突然关闭？{end}",
               "请某些国家放下政治偏见，和中国一起合作抗疫{end}",
               "中国的抗疫成绩有目共睹，为世界争取了宝贵时间{end}",
               "郭文贵到处造谣，利用疫情骗钱，真是无耻{end}",
               "{foreign}抗疫不力，却一味甩锅中国{end}",
               "香港的{thugs}在疫情期间还在搞破坏，毫无人性{end}",
               "中国向{country}援助口罩和医疗物资，这才是大国风范{end}",
               "武汉加油！中国加油{end}",
               "美军运动会之后武汉就出现了病例，这难道是巧合吗？{end}"],
        "zht": ["中國是負責任的大國，抗疫成果有目共睹{end}", "放下政治偏見，共同抗疫{end}"],
        "en": ["China has shown what a responsible major country looks like in the fight against COVID-19{end_en}",
               "Why was the Fort Detrick lab shut down last summer? The world deserves answers{end_en}",
               "Set aside political bias and work with China to defeat the virus{end_en}",
               "Stop blaming China. The time China bought for the world was wasted{end_en}",
               "Guo Wengui is a fugitive and a liar spreading rumors about the epidemic{end_en}",
               "China sent masks and doctors to {country_en}. That is real friendship{end_en}",
               "The origin of the virus is a matter of science, not politics{end_en}"],
    },
    "xinjiang_2021": {
        "zh": ["新疆各族人民生活幸福，所谓的种族灭绝完全是谎言{end}",
               "职业技能教育培训中心帮助学员学习技能、摆脱极端思想，学员已经全部结业{end}",
               "郑国恩的所谓研究漏洞百出，彻头彻尾的谎言{end}",
               "新疆棉花采摘早已大规模机械化，哪来的强迫劳动？{end}",
               "我是新疆人，我爱我的家乡，请不要用谎言抹黑新疆{end}",
               "{media}炒作新疆问题，真正目的是遏制中国发展{end}",
               "来{city}看看吧，这里的人们载歌载舞，生活越来越好{end}",
               "抵制新疆棉花的品牌，最后吃亏的是他们自己{end}"],
        "zht": ["新疆是個好地方，歡迎來看看真實的新疆{end}", "新疆棉花是世界上最好的棉花{end}"],
        "en": ["Uyghurs in Xinjiang live happy lives. Stop the lies about genocide{end_en}",
               "The vocational education and training centers helped people find jobs and leave extremism behind{end_en}",
               "Adrian Zenz's so-called research is full of lies and made-up numbers{end_en}",
               "Most Xinjiang cotton is picked by machines. There is no forced labor{end_en}",
               "I'm from {city_en} and I love my hometown. Come and see the real Xinjiang{end_en}",
               "Western media smear Xinjiang to contain China's development{end_en}",
               "Happy Uyghurs dancing in {city_en} today. This is the real Xinjiang{end_en}"],
    },
}

_HASHTAGS: dict[str, dict[str, list[str]]] = {
    # Shared by IO and the controls that discuss the same topic (same hashtags, both sides).
    "hk_2019": {"pro": ["香港", "HongKong", "撑警察", "止暴制乱", "守护香港", "HongKongPolice", "反暴力", "我是护旗手",
                        "中国一点都不能少"],
                "opp": ["StandWithHongKong", "光復香港時代革命", "FreeHongKong", "HongKongProtests", "五大訴求缺一不可",
                        "AntiELAB", "香港"],
                "news": ["HongKong", "Breaking", "香港", "HongKongProtests", "HK"]},
    "covid_2020": {"pro": ["新冠肺炎", "COVID19", "武汉加油", "中国加油", "德特里克堡", "FortDetrick", "抗疫", "coronavirus",
                           "ChinaFightsCoronavirus", "郭文贵"],
                   "opp": ["COVID19", "WuhanCoronavirus", "StandWithHongKong", "TaiwanCanHelp", "coronavirus", "武汉肺炎"],
                   "news": ["COVID19", "coronavirus", "Breaking", "新冠肺炎", "pandemic"]},
    "xinjiang_2021": {"pro": ["新疆", "Xinjiang", "XinjiangCotton", "新疆棉花", "Uyghur", "新疆是个好地方", "RealXinjiang",
                              "AdrianZenz", "我支持新疆棉花"],
                      "opp": ["StopUyghurGenocide", "Uyghur", "FreeUyghurs", "StillNoInformation", "Xinjiang",
                              "BoycottMadeInChina"],
                      "news": ["Xinjiang", "China", "Uyghur", "新疆", "Breaking"]},
}

# Camouflage: proverbs, poems, motivational quotes and small talk [TW21][REAL CNHU sample].
_PROVERBS_EN = [
    "Actions speak louder than words.", "A friend in need is a friend indeed.", "Every cloud has a silver lining.",
    "Rome was not built in a day.", "Where there is a will, there is a way.", "The early bird catches the worm.",
    "Practice makes perfect.", "Knowledge is power.", "Time and tide wait for no man.", "No pains, no gains.",
    "All roads lead to Rome.", "Honesty is the best policy.", "Well begun is half done.", "Still waters run deep.",
    "Slow and steady wins the race.", "Easy come, easy go.", "Great minds think alike.",
    "The pen is mightier than the sword.", "Look before you leap.", "Better late than never.",
    "A journey of a thousand miles begins with a single step.", "Don't count your chickens before they hatch.",
    "Nothing is impossible to a willing heart.", "Learn to walk before you run.", "Life is not all roses.",
]
_POEMS_ZH = [
    ("静夜思", "唐李白", "床前明月光，疑是地上霜。举头望明月，低头思故乡。"),
    ("登鹳雀楼", "唐王之涣", "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"),
    ("春晓", "唐孟浩然", "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"),
    ("江雪", "唐柳宗元", "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。"),
    ("望岳", "唐杜甫", "会当凌绝顶，一览众山小。"),
    ("行路难", "唐李白", "长风破浪会有时，直挂云帆济沧海。"),
    ("赋得古原草送别", "唐白居易", "离离原上草，一岁一枯荣。野火烧不尽，春风吹又生。"),
    ("游子吟", "唐孟郊", "慈母手中线，游子身上衣。谁言寸草心，报得三春晖。"),
    ("赠汪伦", "唐李白", "桃花潭水深千尺，不及汪伦送我情。"),
    ("悯农", "唐李绅", "锄禾日当午，汗滴禾下土。谁知盘中餐，粒粒皆辛苦。"),
]
_QUOTES_ZH = ["努力不一定成功，但放弃一定失败。", "生活不止眼前的苟且，还有诗和远方。", "每天进步一点点。",
              "心若向阳，无畏悲伤。", "坚持就是胜利", "机会总是留给有准备的人。", "把每一天都当作新的开始。",
              "不忘初心，方得始终。", "今天也要加油哦", "微笑面对生活"]
_DAILY_ZH = ["今天天气真好", "我们明天去公园吧", "这本书很有意思", "周末想去看电影", "你吃饭了吗", "晚上吃火锅",
             "今天加班到很晚", "我的猫又把杯子打翻了", "终于下班了", "这家面馆味道不错", "明天要早起", "好想去旅行",
             "外面下大雨了", "刚跑完五公里", "家里的花开了", "咖啡喝多了睡不着"]
_DAILY_EN = ["What a beautiful day", "Finally Friday", "Need more coffee", "Can't sleep again", "Just finished my run",
             "Cooking dinner for the family tonight", "This rain won't stop", "New week, new goals",
             "Watching the game with friends", "My cat knocked over my coffee again", "Long day at work",
             "Anyone else tired today", "Trying a new recipe tonight", "Sunday brunch is the best"]
_SPAM = {
    "es": ["Gana dinero desde casa, haz clic aquí", "Feliz domingo a todos", "Sígueme y te sigo #followback",
           "Ofertas increíbles solo hoy", "Buenos días amigos"],
    "ru": ["Скидки до 70% только сегодня", "Доброе утро, друзья", "Подписывайтесь, взаимная подписка",
           "Лучшие цены в городе", "Хорошего всем дня"],
    "in": ["Promo pulsa murah, cek link di bio", "Selamat pagi semuanya", "Follow aku ya, pasti follback",
           "Diskon besar hari ini saja", "Semangat hari Senin"],
    "en": ["Buy cheap followers now", "Follow me and I follow back #teamfollowback", "Win an iPhone today, click",
           "Good morning everyone", "Best deals of the week"],
}

# Organic stance lines (one clause among several in a post; see _organic_post).
_EMOJI = ["🇨🇳", "😡", "💪", "🙏", "😢", "👍", "❤️", "😂", "🤔", "🔥", "😷", "💛", "👏", "🙄"]

_ORGANIC: dict[str, dict[str, dict[str, list[str]]]] = {
    "patriot": {
        "hk_2019": {"zh": ["那些暴徒也太过分了", "香港警察辛苦了", "这背后肯定有外国势力", "希望香港早日恢复平静",
                           "看到国旗被扔进海里真的很心痛", "外媒从来只报道一面", "香港年轻人被洗脑了",
                           "机场那一幕看得我很生气", "我撑香港警察"],
                    "en": ["the violence in HK has gone way too far", "the HK police have shown a lot of restraint",
                           "western media only show one side of the story", "attacking a journalist at the airport is not democracy",
                           "I just want my hometown to be peaceful again"]},
        "covid_2020": {"zh": ["中国的防疫措施真的很有效", "武汉的医护人员太伟大了", "美国凭什么甩锅中国",
                              "病毒的源头还不知道呢，别乱说", "国外还不戴口罩，我急死了", "德特里克堡的事情怎么没人追问",
                              "看到援助物资上的诗句很感动"],
                       "en": ["China did what it could to contain the virus", "blaming China won't stop the virus",
                              "nobody asks about Fort Detrick", "China's lockdown bought the world time",
                              "my family in Wuhan says things are getting better"]},
        "xinjiang_2021": {"zh": ["新疆根本不是外媒说的那样", "我去过新疆，那里的人很热情", "支持新疆棉花",
                                 "那些品牌不尊重中国消费者", "外国人应该去新疆亲眼看看", "郑国恩的数据谁信啊"],
                          "en": ["I've been to Xinjiang and it's nothing like the media says",
                                 "boycotting Xinjiang cotton hurts the farmers", "Zenz's numbers don't add up",
                                 "come visit Kashgar before you judge"]},
    },
    "opposition": {
        "hk_2019": {"zht": ["今晚{district}見，光復香港，時代革命", "警察濫暴，天理何在", "五大訴求，缺一不可",
                            "香港人加油 💛", "{district}又放催淚彈，街坊都中招", "721 元朗，不會忘記", "我哋係人，唔係暴徒"],
                    "en": ["the police fired tear gas in {district_en} again tonight", "five demands, not one less",
                           "Hong Kong is not China's yet", "they call us rioters but we are students and nurses",
                           "please don't look away from Hong Kong"]},
        "covid_2020": {"zht": ["醫護罷工要求封關，政府仲唔聽", "口罩又賣晒", "唔好信官媒嘅數字", "香港人自救"],
                       "en": ["Wuhan doctors were silenced for warning us", "WHO should have listened to Taiwan",
                              "don't trust the official numbers", "RIP Dr Li Wenliang"]},
        "xinjiang_2021": {"zht": ["新疆集中營必須關閉", "不要買強迫勞動的棉花"],
                          "en": ["my family in {city_en} has been missing since 2017", "boycott forced-labour cotton",
                                 "the camps are not schools", "Uyghur women are speaking out, listen to them",
                                 "satellite images show the camps are still there"]},
    },
    "ordinary": {
        "hk_2019": {"zht": ["港鐵又停駛，返屋企用咗兩個鐘", "今日返工好辛苦", "周末去咗行山", "茶餐廳又加價",
                            "唔知幾時先至平靜落嚟"],
                    "en": ["MTR closed again, took me two hours to get home", "hiking on Lantau this weekend",
                           "exam season and the city is on fire", "whatever side you're on, stay safe"]},
        "covid_2020": {"zh": ["两周没出门了，快憋疯了", "口罩又涨价了", "在家办公第三周", "今天终于买到酒精了",
                              "小区又封了"],
                       "en": ["day {n} of lockdown, made banana bread again", "stay home and wash your hands",
                              "working from home with two kids is chaos", "grocery store shelves are empty again",
                              "zoom call number five today"]},
        "xinjiang_2021": {"zh": ["新疆的葡萄干真好吃", "想去喀纳斯旅游", "这件衣服是新疆棉的吗"],
                          "en": ["best lamb skewers I've ever had were in Urumqi", "should I stop buying H&amp;M?",
                                 "reading about the cotton boycott", "which brands actually audit their supply chain"]},
    },
}

# Journalists and researchers quote the narratives (text overlap with IO, opposite stance).
_JOURNALIST: dict[str, dict[str, list[str]]] = {
    "hk_2019": {"en": ['State media now call protesters "rioters" and blame "black hands" abroad. Thread:',
                       "New: a network of accounts created on the same days pushes the {q} line. Details below",
                       'Beijing\'s liaison office says the protests show "signs of terrorism". Live updates',
                       "Police fired tear gas in {district_en} this afternoon, our reporter says"],
                "zht": ["官媒稱示威者為「暴徒」，並指有「外國黑手」介入", "{district}今日下午再有衝突，記者在現場",
                        "分析：「止暴制亂」如何成為官方敘事"]},
    "covid_2020": {"en": ["Foreign ministry spokesman again suggests the virus came from the US army lab at Fort Detrick. No evidence given",
                          'New report: accounts praising China as a "responsible major country" were created in bulk',
                          "Thread on how the {q} narrative spread this week",
                          "Cases in {country_en} doubled in four days, latest figures"],
                   "zh": ["外交部发言人再次提到德特里克堡，但未提供证据", "分析：负责任大国叙事如何在推特上扩散"]},
    "xinjiang_2021": {"en": ['Officials say the camps were "vocational training centres" and everyone has "graduated". Satellite data suggest otherwise',
                             "Our investigation into cotton supply chains in {city_en}, out today",
                             "Accounts posting proverbs all day suddenly switched to attacking Adrian Zenz. Thread",
                             "Thread on the {q} narrative and who amplifies it"],
                      "zh": ["官方称培训中心学员已全部结业", "调查：新疆棉花供应链"]},
}
_JOURNALIST_Q = ["restore order", "foreign interference", "responsible major country", "Fort Detrick",
                 "happy Uyghurs", "lies of Adrian Zenz", "black hands"]

_NEWS: dict[str, dict[str, list[str]]] = {
    "hk_2019": {"en": ["Hong Kong police fire tear gas at protesters in {district_en}",
                       "Hong Kong leader says extradition bill is dead", "Flights cancelled as protesters occupy Hong Kong airport",
                       "Hong Kong stocks fall as protests continue"],
                "zht": ["{district}再有示威活動，警方施放催淚彈", "機管局取消所有航班", "港股今日收市下跌"]},
    "covid_2020": {"en": ["Coronavirus: {country_en} reports {n} new cases", "WHO declares COVID-19 a pandemic",
                          "Markets tumble as virus spreads in {country_en}", "Lockdown extended in {country_en}"],
                   "zh": ["{country}新增确诊病例{n}例", "世卫组织宣布新冠疫情构成全球大流行"]},
    "xinjiang_2021": {"en": ["Brands face boycott in China over Xinjiang cotton statements",
                             "{country_en} announces sanctions over Xinjiang", "China sanctions European researchers",
                             "US bans imports of Xinjiang cotton"],
                      "zh": ["多个品牌因新疆棉花声明遭抵制", "{country}宣布就新疆问题实施制裁"]},
}
# Link domains by group. Which group a link comes from is a per-account leaning (see
# _URL_MIX), not a class rule: organic nationalists and news aggregators link state media
# too, journalists and researchers link both sides (to document the narratives), and IO
# accounts also link mainstream outlets, quoted to attack them [ASPI20][SIO20][ASPI21].
_URL_GROUPS: dict[str, list[str]] = {
    "state": ["globaltimes.cn", "xinhuanet.com", "cgtn.com", "chinadaily.com.cn", "people.com.cn", "news.cn"],
    "mainstream": ["reuters.com", "bbc.co.uk", "scmp.com", "hongkongfp.com", "apnews.com", "cnn.com", "rthk.hk",
                   "theguardian.com", "nytimes.com"],
    "social": ["youtube.com", "instagram.com", "weibo.com", "facebook.com"],
    "other": ["wenweipo.com", "takungpao.com", "medium.com", "bilibili.com", "zhihu.com", "thestandnews.com"],
}
# Dirichlet concentration over (state, mainstream, social, other) per persona: small values
# give accounts that link almost only one group (a pro-Beijing aggregator bot, a patriot who
# only posts Global Times links, an IO account that mostly posts YouTube clips).
_URL_MIX: dict[str, tuple[float, float, float, float]] = {
    "core": (2.0, 0.6, 1.0, 0.6), "repurposed": (1.6, 0.7, 1.0, 0.6), "amplifier": (2.0, 0.5, 1.0, 0.6),
    "camouflage": (1.4, 0.5, 1.2, 0.6), "breaker": (1.0, 0.8, 1.2, 0.6),
    "patriot": (1.3, 0.8, 1.2, 0.6), "journalist": (0.7, 2.5, 0.4, 0.4), "news_bot": (0.5, 0.9, 0.15, 0.2),
    "opposition": (0.2, 1.6, 1.2, 0.8), "new_organic": (0.9, 0.8, 1.0, 0.5), "ordinary": (0.4, 1.3, 1.5, 0.8),
}

_PROFILES_IO = ["cool", "热爱生活", "爱国", "随便看看", "hello", "一个普通人", "喜欢音乐和旅行", "Love life",
                "本号只关注新闻动态，谢谢关注。", "平平淡淡才是真"]
_PROFILES_ORG = ["香港人", "Dad, engineer, coffee addict", "中国人 🇨🇳 在澳洲", "Views my own", "爱生活，爱自己",
                 "PhD student. Cats and books", "Hongkonger in London", "热爱祖国 热爱生活", "Runner | Foodie",
                 "Nurse. Tired.", "在美国读书", "Proud Chinese-Canadian", "just here for the memes",
                 'Quote of my life: "be kind"', "IT 民工\n偶尔更新", "Teacher / 老师", "自由 民主 人權"]
_PROFILES_JOURNALIST = ["Reporter covering China. Views my own", "Correspondent in Hong Kong. DMs open",
                        "Researcher, disinformation & China", "記者 Journalist", "Editor. RTs not endorsements",
                        "China analyst.\nSignal available", 'Writing about the "information war"']
_PROFILES_BOT = ["Automated feed of the latest headlines", "24/7 news updates", "Breaking news bot, not monitored",
                 "新闻自动推送"]
_LOCATIONS_ORG = ["Hong Kong", "香港", "Beijing", "London", "Sydney", "New York, NY", "Toronto", "Taipei", "Shenzhen",
                  "Vancouver", "Singapore", "Melbourne", "Los Angeles, CA", "上海"]
_LOCATIONS_IO = ["", "California, USA", "New York", "Beijing", "London, England", "USA", "香港"]

_ZH_NAMES = ["清风", "夜幕之光", "前尘往事", "阿狸", "牛小牛", "星辰大海", "小雨", "旁观者", "月下独酌", "平凡人生",
             "晨曦", "大白", "云淡风轻", "北极光", "微微一笑", "老王", "海阔天空", "追梦人", "一叶知秋", "安静的猫"]
_ZH_SURNAMES = ["陈", "李", "王", "张", "刘", "黄", "林", "周", "吴", "何", "梁", "郭"]
_ZH_GIVEN = ["小明", "志强", "美玲", "家豪", "嘉欣", "伟", "婷", "浩然", "子轩", "雨桐", "建国", "丽"]
_EN_FIRST = ["George", "Delicia", "Richard", "Emma", "Kevin", "Linda", "Jason", "Mary", "Tony", "Grace", "Peter",
             "Vera", "Anna", "Michael", "Sophia", "Kelvin", "Iris", "Daniel", "Olga", "Ivan"]
_EN_LAST = ["Venus", "Chan", "Wong", "Smith", "Lee", "Brown", "Ho", "Lam", "Petrova", "Garcia", "Tan", "Cheung"]
_PINYIN = ["wu", "ming", "xia", "li", "shui", "shi", "xin", "wen", "jie", "zhang", "hua", "long", "fei", "yun", "tian",
           "hai", "feng", "lan", "xue", "bao", "jin", "an", "le", "qing"]
_WORDS = ["sunny", "blue", "panda", "coffee", "night", "river", "lion", "rock", "city", "dream", "star", "tea", "cat",
          "bird", "moon", "real", "the", "hk", "its", "just"]
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_CLIENT_SOURCE = {
    "Twitter Web App": "https://mobile.twitter.com", "Twitter Web Client": "http://twitter.com",
    "Twitter for iPhone": "http://twitter.com/download/iphone",
    "Twitter for Android": "http://twitter.com/download/android",
    "TweetDeck": "https://about.twitter.com/products/tweetdeck", "dlvr.it": "https://dlvrit.com/",
    "IFTTT": "https://ifttt.com", "Buffer": "https://buffer.com",
}


# --------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------


@dataclass
class Account:
    userid: str
    screen_name: str
    display_name: str
    location: str
    description: str
    url: str
    followers: int
    following: int
    created: date
    lang: str
    hashed: bool
    label: str
    persona: str
    schedule: str
    tz: int
    hour_w: np.ndarray
    wday_w: np.ndarray
    clients: tuple[list[str], list[float]]
    retweet_share: float
    text_lang: dict[str, float]
    style: dict[str, float]
    engagement: float
    url_mix: dict[str, float] = field(default_factory=dict)  # link-domain group leaning
    rt_mu: float = 0.0  # log of the account's typical delay (s) when retweeting in-network tweets
    rt_sigma: float = 1.0
    rt_batched: bool = False  # retweets released in scheduled batches at office-hour slots
    inside: float = 0.5  # share of interactions aimed at accounts of the same dump
    n_tweets: int = 0
    tweets: list[dict] = field(default_factory=list)
    voice: dict = field(default_factory=dict)  # personal writing style (see make_voice)
    bank: dict = field(default_factory=dict)  # the campaign's shared texts (see make_text_bank)


def _pick(r: random.Random, weighted):
    """One key of a {key: weight} dict or ((key, weight), ...) tuple, drawn by weight."""
    items = weighted.items() if isinstance(weighted, dict) else weighted
    x = r.random() * sum(w for _, w in items)
    for k, w in items:
        x -= w
        if x < 0:
            return k
    return k


def _lognormal_int(rng: np.random.Generator, median: float, sigma: float) -> int:
    return int(rng.lognormal(np.log(max(median, 0.3)), sigma))


def hashed_id(key: str, r: random.Random) -> str:
    """An opaque archive-style hashed id: base64 of SHA-256, 41-44 characters, ending '='.

    Real hashed ids are 41-44 characters and not always valid base64 [REAL users file:
    44:133, 43:91, 42:23, 41:7]; dropping 0-3 characters reproduces that.
    """
    s = base64.b64encode(hashlib.sha256(key.encode()).digest()).decode()[:-1]
    for _ in range(r.choices([0, 1, 2, 3], weights=[52, 36, 9, 3])[0]):
        i = r.randrange(len(s))
        s = s[:i] + s[i + 1:]
    return s + "="


def _epoch_s(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp())


def _numeric_userid(created: date, r: random.Random) -> str:
    """User ids follow creation time: sequential before mid-2016, snowflake after [REAL]."""
    if created >= date(2016, 5, 1):
        ms = (_epoch_s(created) + r.randrange(86400)) * 1000 + r.randrange(1000)
        return str(((ms - _TWITTER_EPOCH_MS) << 22) | r.getrandbits(22))
    anchors = [(date(2007, 1, 1), 1e6), (date(2009, 1, 1), 1.8e7), (date(2010, 1, 1), 1e8), (date(2011, 1, 1), 2.3e8),
               (date(2012, 1, 1), 4.5e8), (date(2013, 1, 1), 1.05e9), (date(2014, 1, 1), 2.25e9),
               (date(2015, 1, 1), 2.95e9), (date(2016, 1, 1), 4.7e9), (date(2016, 5, 1), 7.3e9)]
    x = created.toordinal()
    val = float(np.interp(x, [a.toordinal() for a, _ in anchors], [v for _, v in anchors]))
    return str(int(val * (1 + r.uniform(-0.01, 0.01))))


def _handle(style: str, r: random.Random) -> str:
    if style == "random15":  # e.g. sV8jxdXfJwDNZns [REAL]
        return "".join(r.choice(_ALNUM) for _ in range(15))
    if style == "default":  # Twitter's default handle: name + 8 digits, e.g. Richard17700647 [REAL]
        first = r.choice(_EN_FIRST)
        return first[:7] + "".join(r.choice("0123456789") for _ in range(8))
    if style == "pinyin":  # e.g. wuming11xia, lishuishi [REAL]
        parts = [r.choice(_PINYIN) for _ in range(r.randint(2, 4))]
        if r.random() < 0.5:
            parts.insert(r.randint(1, len(parts)), str(r.randint(1, 99)))
        return "".join(parts)[:15]
    if style == "name_digits":  # e.g. baillopud5, osipodincov3 [REAL]
        return (r.choice(_EN_FIRST) + r.choice(_EN_LAST)).lower()[:12] + str(r.randint(1, 99))
    # "word": organic handles
    w = [r.choice(_WORDS), r.choice(_WORDS + _PINYIN + [n.lower() for n in _EN_FIRST])]
    sep = r.choice(["", "_", "", "."]).replace(".", "")
    h = sep.join(w)
    if r.random() < 0.4:
        h += str(r.randint(1, 2020))
    if r.random() < 0.3:
        h = h.capitalize()
    return h[:15]


_HANDLE_STYLES = {
    IO: {"random15": 0.3, "default": 0.25, "pinyin": 0.2, "name_digits": 0.15, "word": 0.1},
    # New organic accounts keep default handles too (a typical false positive).
    CONTROL: {"word": 0.5, "pinyin": 0.15, "default": 0.2, "name_digits": 0.1, "random15": 0.05},
}


def _display_name(persona: Persona, r: random.Random) -> str:
    k = r.random()
    if persona.name == "news_bot":
        return r.choice(["HK News Feed", "Breaking 24/7", "China News Wire", "World Headlines", "新闻快讯",
                         "Asia News Now", "Daily Brief"])
    if persona.label == IO:
        if k < 0.5:
            return r.choice(_ZH_NAMES)
        if k < 0.85:
            return r.choice(_EN_FIRST) + ("" if r.random() < 0.5 else " " + r.choice(_EN_LAST))
        return r.choice(_ZH_SURNAMES) + r.choice(_ZH_GIVEN)
    if k < 0.3:
        return r.choice(_ZH_SURNAMES) + r.choice(_ZH_GIVEN)
    if k < 0.6:
        return f"{r.choice(_EN_FIRST)} {r.choice(_EN_LAST)}"
    if k < 0.8:
        return f"{r.choice(_EN_FIRST)} {r.choice(_EN_LAST)} {r.choice(_ZH_SURNAMES)}"
    return r.choice(_ZH_NAMES) + (" " + r.choice(_EMOJI) if r.random() < 0.5 else "")


def _creation_date(persona: Persona, camp: Campaign, batches: list[date], rng, r: random.Random) -> date:
    start = camp.start.toordinal()
    if persona.creation == "batch":
        # Batch registration: many accounts created on the same few days [TW19][TW20][REAL:
        # 119 of 744 accounts on 2017-08-30]. The rest spread over the preceding two years.
        if r.random() < 0.6:
            return batches[r.randrange(len(batches))]
        return date.fromordinal(start - r.randint(20, 720))
    if persona.creation == "old":
        # Repurposed accounts were created years before the operation [TW19][SIO19].
        return date.fromordinal(start - r.randint(365, 365 * 10))
    spike = _SIGNUP_SPIKES[camp.name]
    if persona.creation == "recent":
        # Brand-new organic accounts: created shortly before or during the window, many of
        # them on the days the story broke (sign-ups surge with news events: HK protests
        # June/Aug 2019, the Jan 2020 Wuhan lockdown, the March 2021 cotton boycott).
        k = r.random()
        if k < 0.5:
            return date.fromordinal(r.choice(spike).toordinal() + r.randint(-1, 1))
        if k < 0.75:
            # dormant sign-ups reactivated by the news event: old account, empty profile, few followers
            return date.fromordinal(start - r.randint(100, 900))
        return date.fromordinal(start + r.randint(-60, int(0.6 * (camp.end.toordinal() - start))))
    if persona.label == CONTROL and persona.creation == "organic" and r.random() < 0.07:
        return date.fromordinal(r.choice(spike).toordinal() + r.randint(-1, 1))
    if persona.creation == "bot":
        return date.fromordinal(start - r.randint(30, 365 * 6))
    # organic: account ages spread from 2008 to just before the window
    return max(date(2008, 7, 1), date.fromordinal(start - int(min(365 * 12, rng.lognormal(np.log(900), 0.9))) - 5))


# Days organic sign-ups surged with the news (see _creation_date).
_SIGNUP_SPIKES: dict[str, list[date]] = {
    "hk_2019": [date(2019, 6, 12), date(2019, 7, 22), date(2019, 8, 12)],
    "covid_2020": [date(2020, 1, 23), date(2020, 1, 27), date(2020, 3, 12)],
    "xinjiang_2021": [date(2020, 1, 24), date(2021, 3, 25), date(2021, 3, 29)],
}


def _batch_days(camp: Campaign, r: random.Random) -> list[date]:
    start = camp.start.toordinal()
    # A few registration waves, some months before the campaign and one inside it
    # (covid: many CNHU/china_052020 accounts registered Jan-Mar 2020 [TW20][REAL CNHU]).
    days = [date.fromordinal(start - r.randint(40, 600)) for _ in range(3)]
    days.append(date.fromordinal(start + r.randint(0, 20)))
    return days


def _account_langs(persona: Persona, camp: Campaign, r: random.Random) -> dict[str, float]:
    if persona.label == IO:
        base = dict(camp.io_lang)
    elif persona.name == "opposition":
        base = {"zht": 0.55, "en": 0.45} if camp.name != "xinjiang_2021" else {"zht": 0.15, "en": 0.85}
    elif persona.name == "journalist":
        base = {"en": 0.75, "zht": 0.15, "zh": 0.10}
    else:
        base = {"zh": 0.5, "zht": 0.15, "en": 0.35}
    # each person leans to one language
    main = _pick(r, base)
    return {k: (v + (1.5 if k == main else 0.0)) for k, v in base.items()}


def _account_language(persona: Persona, text_lang: dict[str, float], r: random.Random, old_lang: str | None) -> str:
    if old_lang:
        return old_lang
    main = max(text_lang, key=lambda k: text_lang[k])
    if main == "en" or r.random() < 0.2:
        return r.choice(["en", "en", "en-gb"]) if r.random() < 0.85 else "ja"
    if main == "zht":
        return r.choice(["zh-tw", "zh-hk", "zh-tw", "en"])
    return r.choice(["zh-cn", "zh-cn", "zh-cn", "zh-CN", "en"])


def make_account(persona: Persona, camp: Campaign, idx: int, batches: list[date], rng: np.random.Generator,
                 r: random.Random, seed: int, used: set[str]) -> Account:
    created = _creation_date(persona, camp, batches, rng, r)
    followers = _lognormal_int(rng, *persona.followers)
    if persona.name == "repurposed" and r.random() < 0.35:
        followers = int(rng.lognormal(np.log(15000), 0.5))  # bought followers [REAL: 12k-55k]
    if persona.name in ("core", "amplifier", "camouflage"):
        followers = min(followers, int(rng.integers(8, 40)))  # < 10 followers for most [TW20][REAL]
    following = _lognormal_int(rng, *persona.following)
    hashed = followers < 5000 and r.random() < persona.hashed_rate  # archive hashes < 5000 followers [TW19]
    while True:
        uid = hashed_id(f"{seed}|{camp.name}|{idx}|{r.random()}", r) if hashed else _numeric_userid(created, r)
        if uid not in used:
            used.add(uid)
            break
    if hashed:
        screen = display = uid  # hashed rows carry the hash as display and screen name [REAL]
    else:
        # repurposed/built-up IO accounts keep ordinary-looking handles [TW19][SIO19]
        kind = CONTROL if persona.name in ("repurposed", "breaker") else persona.label
        style = "word" if persona.name == "news_bot" else _pick(r, _HANDLE_STYLES[kind])
        if persona.name == "new_organic" and r.random() < 0.5:
            style = "default"
        screen, display = _handle(style, r), _display_name(persona, r)
    old_lang = None
    if persona.name == "repurposed" and r.random() < 0.6:
        old_lang = r.choice(["es", "ru", "in", "en", "ru"])
    text_lang = _account_langs(persona, camp, r)
    lang = _account_language(persona, text_lang, r, old_lang)
    if persona.name == "news_bot":
        description = r.choice(_PROFILES_BOT)
    elif persona.name == "journalist":
        description = r.choice(_PROFILES_JOURNALIST)
    elif r.random() < persona.profile:
        description = r.choice(_PROFILES_IO if persona.label == IO and r.random() < 0.6 else _PROFILES_ORG)
    else:
        description = ""
    if persona.label == IO:
        location = r.choice(_LOCATIONS_IO) if r.random() < 0.25 else ""
    else:
        location = r.choice(_LOCATIONS_ORG) if r.random() < persona.profile else ""
    url = "https://t.co/" + _tco(r) if (persona.name in ("journalist", "news_bot") and r.random() < 0.7) or r.random() < 0.05 else ""

    schedule = _pick(r, persona.schedule)
    main_h, main_w = _SCHEDULES[schedule]
    gen_h, gen_w = _SCHEDULES["diurnal"]
    b = float(rng.beta(*persona.blend))
    hour_w = (1 - b) * np.asarray(main_h, float) / sum(main_h) + b * np.asarray(gen_h, float) / sum(gen_h)
    wday_w = (1 - b) * np.asarray(main_w, float) / sum(main_w) + b * np.asarray(gen_w, float) / sum(gen_w)
    # individual rhythm: jitter each hour (people are not identical)
    hour_w = hour_w * rng.lognormal(0, 0.35, 24)
    names = [c for c, _ in persona.clients]
    weights = np.asarray([w for _, w in persona.clients]) * rng.lognormal(0, 0.6, len(names))
    return Account(
        userid=uid, screen_name=screen, display_name=display, location=location, description=description, url=url,
        followers=followers, following=following, created=created, lang=lang, hashed=hashed, label=persona.label,
        persona=persona.name, schedule=schedule, tz=int(_pick(r, persona.tz)), hour_w=hour_w / hour_w.sum(), wday_w=wday_w,
        clients=(names, list(weights / weights.sum())), retweet_share=float(rng.beta(*persona.retweet)),
        text_lang=text_lang,
        style={"emoji": r.random() * (0.5 if persona.label == CONTROL else 0.12),
               "typo": r.random() * (0.15 if persona.label == CONTROL else 0.05),
               "hashtag": r.random() * 0.6 + (0.2 if persona.name == "news_bot" else 0.0),
               "link": r.random() * (0.9 if persona.name == "news_bot" else 0.5),
               "lower": float(r.random() < 0.2)},
        engagement=float(persona.engagement * rng.lognormal(0, 1.0)),
        url_mix=dict(zip(_URL_GROUPS, rng.dirichlet(_URL_MIX[persona.name]))),
        **_retweet_habits(persona, rng),
    )


def _retweet_habits(persona: Persona, rng: np.random.Generator) -> dict:
    """Per-account retweet speed and how much of it targets the same dump.

    Delays are lognormal per retweet around a per-account typical delay, so account medians
    overlap between the classes the way they do in the releases:
    - organic retweet cascades peak within minutes to an hour and have heavy tails (retweet
      delays are roughly lognormal; most retweets of a tweet come in its first hour), and
      fans of the same influencer / followers of a news feed retweet within minutes;
    - IO amplifiers often retweet core accounts within minutes [ASPI20], but ASPI and SIO
      also found amplifiers releasing retweets in scheduled batches hours or days after the
      original [ASPI20][SIO20], and most IO accounts also amplify state-media accounts whose
      originals are not in the dump [ASPI20][TW21].
    """
    if persona.label == IO:
        live = {"amplifier": 0.75, "core": 0.65, "repurposed": 0.55, "camouflage": 0.55, "breaker": 0.45}[persona.name]
        batched = bool(rng.random() >= live)
        if batched:  # scheduled batches: hours to a couple of days later
            mu, sigma = np.log(rng.lognormal(np.log(4 * 3600), 0.9)), 0.9
        else:  # live amplification: minutes
            mu, sigma = np.log(rng.lognormal(np.log(300), 0.9)), 1.1
        inside = float(rng.beta(5, 2.5))  # ~2/3 in-network, the rest state media outside the dump
    else:
        # organic: from fans retweeting within minutes to people catching up a day later;
        # news-feed followers and nationalists retweet popular accounts fast
        fast = {"patriot": 3600, "news_bot": 1800, "journalist": 3600, "opposition": 3600, "new_organic": 7200,
                "ordinary": 7200}[persona.name]
        batched = False
        mu, sigma = np.log(rng.lognormal(np.log(fast), 1.3)), 1.4
        inside = float(rng.beta(3, 3))
    return {"rt_mu": float(mu), "rt_sigma": float(sigma), "rt_batched": batched, "inside": inside}


def _split(total: int, shares: dict[str, float]) -> list[str]:
    """Deterministic apportionment of `total` slots to keys by shares (largest remainder)."""
    keys = list(shares)
    raw = np.asarray([shares[k] for k in keys], float)
    raw = raw / raw.sum() * total
    n = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - n), kind="stable")[: total - n.sum()]:
        n[i] += 1
    return [k for k, c in zip(keys, n) for _ in range(c)]


def make_accounts(camp: Campaign, n: int, tweets_per_account: float, rng: np.random.Generator, r: random.Random,
                  seed: int, used: set[str]) -> list[Account]:
    n_io = int(round(n * camp.io_share))
    personas = _split(n_io, camp.io_personas) + _split(n - n_io, camp.control_personas)
    batches = _batch_days(camp, r)
    accounts = [make_account(PERSONAS[p], camp, i, batches, rng, r, seed, used) for i, p in enumerate(personas)]
    # Heavy-tailed activity: many accounts with 1-2 tweets, a few with hundreds.
    raw = np.asarray([PERSONAS[a.persona].activity for a in accounts]) * rng.lognormal(0, 1.25, len(accounts))
    counts = np.maximum(1, np.round(raw * (n * tweets_per_account) / raw.sum())).astype(int)
    for a, c in zip(accounts, counts):
        a.n_tweets = int(c)
    return accounts


# --------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------


def _tco(r: random.Random) -> str:
    return "".join(r.choice(_ALNUM) for _ in range(10))


def _fill(t: str, r: random.Random) -> str:
    for k, vals in _SLOTS.items():
        slot = "{" + k + "}"
        while slot in t:
            t = t.replace(slot, r.choice(vals), 1)
    t = t.replace("{q}", r.choice(_JOURNALIST_Q)).replace("{n}", str(r.randint(3, 4000)))
    return t


def _lang_pool(pools: dict[str, list[str]], lang: str) -> tuple[str, list[str]]:
    if lang in pools:
        return lang, pools[lang]
    alt = {"zht": "zh", "zh": "zht"}.get(lang)
    if alt in pools:
        return alt, pools[alt]
    return "en", pools.get("en") or next(iter(pools.values()))


# --------------------------------------------------------------------------------------
# Organic text grammar. Real organic text is nearly always unique per person: near-
# duplicates among organic users are limited to shared headlines (link shares, news feeds),
# greetings, slogans and quotes. So organic posts are composed from several independently
# drawn clauses (life events, people, places, times, stances, reactions), each a product of
# word-level slots, in the account's own voice (its openers, remarks, particles, emoji,
# code-switching, typos, length). Templates expand recursively: {slot} -> a random entry.
# --------------------------------------------------------------------------------------

_G: dict[str, dict[str, list[str]]] = {
    "zh": {
        "time": ["今天", "刚才", "早上", "中午", "下午", "晚上", "半夜", "周末", "昨晚", "今早", "下班后", "午休的时候",
                 "这几天", "周六", "周日", "刚刚", "凌晨两点", "一大早", "上班路上", "睡前", "吃饭的时候", "前天"],
        "who": ["", "", "", "和老婆", "跟同事", "带孩子", "跟我妈", "和室友", "一个人", "和男朋友", "和闺蜜", "跟老同学",
                "陪爸妈", "带着狗", "和邻居", "跟表弟"],
        "act": ["去超市买菜", "在家做饭", "去健身房", "加班", "看了一部老电影", "去公园散步", "打扫房间", "去医院复查",
                "修电脑", "给阳台的花浇水", "去银行办事", "逛书店", "学做蛋糕", "打了一下午游戏", "看球赛", "挤地铁",
                "去理发", "收拾行李", "去面试", "开了三个小时的会", "送孩子上学", "遛狗", "去江边骑车", "爬山",
                "喝了杯奶茶", "吃了碗牛肉面", "追剧", "收拾衣柜", "写报告", "等快递", "逛宜家", "练琴", "出去拍照",
                "去朋友家吃饭", "做瑜伽", "复习考试", "换了新手机", "包饺子", "去菜市场", "洗了一堆衣服"],
        "feel": ["累死了", "好开心", "有点无聊", "还挺满足的", "心情不错", "腰酸背痛", "感觉被掏空", "真香", "幸福感满满",
                 "太难了", "效率超低", "挺放松的", "好困", "有点想家", "笑死我了", "又胖了", "值了", "后悔了", "心累",
                 "元气满满", "头都大了", "美滋滋"],
        "tail": ["", "", "", "", "哈哈", "哈哈哈", "唉", "嘿嘿", "呜呜", "啊啊啊", "…", "吧", "呢", "啊", "hhh"],
        "detail": ["楼下新开了一家{food}店", "{pet}今天又拆家了", "{food}居然涨价了", "地铁上有人外放", "老板临时让改方案",
                   "快递丢了", "邻居家装修吵了一天", "电梯又坏了", "隔壁小孩在练钢琴", "下了一场大雨", "天终于晴了",
                   "手机屏幕摔碎了", "家里wifi又断了", "阳台的{plant}开花了", "{relative}来电话了", "楼下的{food}关门了",
                   "公交等了四十分钟", "空调坏了"],
        "food": ["火锅", "麻辣烫", "烧烤", "奶茶", "拉面", "煎饼果子", "螺蛳粉", "小龙虾", "饺子", "肠粉", "烤鸭", "酸菜鱼",
                 "米线", "炸鸡"],
        "pet": ["我家猫", "我家狗", "家里的二哈", "家里的橘猫", "我家仓鼠", "小区的流浪猫"],
        "plant": ["月季", "绿萝", "多肉", "茉莉", "栀子花", "仙人掌"],
        "relative": ["我妈", "我爸", "我姐", "我表哥", "我奶奶", "我舅舅", "老同学", "我大学室友", "我姑姑", "我同事"],
        "place": ["北京", "上海", "深圳", "成都", "广州", "杭州", "武汉", "西安", "南京", "重庆", "温哥华", "悉尼",
                  "多伦多", "伦敦", "纽约", "墨尔本", "东京", "新加坡"],
        "react": ["气得我饭都吃不下", "心里很不是滋味", "越看越生气", "真的很无奈", "只能叹气", "大家意见都不一样",
                  "差点吵起来", "沉默了很久", "半天说不出话", "越想越难过", "看得我眼眶都红了", "实在忍不住想说两句"],
        "span": ["晚上", "下午", "整天", "早上"],
        "app": ["抖音", "微博", "油管", "推特", "B站", "朋友圈", "微信群"],
        "angle": ["{time}{who}聊起{topic}，{react}", "{relative}在{place}，{rel_said}", "刷了一{span}{topic}的新闻，{feel}",
                  "{time}在{app}上看到{topic}的视频，{react}", "我在{place}待了这么多年，{react}",
                  "{time}{who}{act}，路上一直在想{topic}", "{relative}在{app}里转了一篇讲{topic}的文章，{react}"],
        "rel_said": ["说那边{rel_state}", "天天给我发{topic}的消息", "劝我少看新闻", "让我注意安全", "跟我争了半天",
                     "说根本不是网上说的那样"],
        "rel_state": ["一切正常", "人心惶惶", "大家都很担心", "生活没什么变化", "气氛很紧张"],
        "life": ["{time}{who}{act}，{feel}{tail}", "{time}{detail}，{feel}{tail}", "{time}{act}，{detail}{tail}",
                 "{time}{who}{act}，结果{detail}，{feel}", "{detail}，{time}只好{act}{tail}",
                 "{relative}说{detail}，{feel}{tail}", "{time}终于{act}了，{feel}{tail}"],
    },
    "zht": {
        "time": ["今日", "尋晚", "頭先", "朝早", "放工後", "成個下晝", "禮拜六", "呢幾日", "啱啱", "半夜", "食晏時", "琴日"],
        "who": ["", "", "", "同屋企人", "同老公", "同啲同事", "一個人", "同朋友", "帶埋個仔", "同阿媽"],
        "act": ["去飲茶", "行山", "打邊爐", "返工", "OT", "去街市買餸", "睇戲", "喺屋企煮飯", "去海邊行吓", "搭巴士出九龍",
                "去旺角行街", "打波", "幫阿媽執屋", "食咗碗車仔麵", "飲咗杯凍檸茶", "排隊買麵包", "去圖書館溫書", "踩單車",
                "去睇醫生", "搬屋"],
        "feel": ["好攰", "好開心", "幾正", "麻麻地", "真係頂唔順", "好chill", "爆肚餓", "好滿足", "悶到發霉", "笑死",
                 "心都實晒", "好無奈"],
        "tail": ["", "", "", "啦", "囉", "喎", "呀", "咩", "lol", "唉"],
        "detail": ["樓下間{food}舖執咗", "部電話又壞咗", "隻{pet}又搞破壞", "落大雨冇帶遮", "巴士等咗半個鐘", "冷氣壞咗",
                   "老細又加嘢做", "屋企部雪櫃壞咗", "{relative}打電話嚟"],
        "food": ["茶餐廳", "車仔麵", "燒味", "糖水", "魚蛋", "菠蘿包", "雲吞麵"],
        "pet": ["貓", "狗", "倉鼠"],
        "relative": ["阿媽", "阿爸", "家姐", "細佬", "老公", "老婆", "表哥", "舊同學"],
        "place": ["{district}", "{district}", "倫敦", "台北", "溫哥華", "多倫多", "悉尼"],
        "react": ["真係好嬲", "心好痛", "講唔出嘢", "好無力", "越睇越激氣", "喊咗出嚟", "唔知講咩好"],
        "span": ["晚", "個下晝", "日"],
        "app": ["連登", "TG", "FB", "IG", "YouTube", "直播"],
        "angle": ["{time}{who}傾起{topic}，{react}", "{relative}喺{place}，話{rel_state}", "睇咗成{span}{topic}嘅直播，{react}",
                  "{time}喺{app}見到{topic}嘅片，{react}", "{time}{act}，成日諗住{topic}"],
        "rel_state": ["一切正常", "好多人好驚", "氣氛好緊張", "街坊都好擔心"],
        "life": ["{time}{who}{act}，{feel}{tail}", "{time}{detail}，{feel}{tail}", "{time}{act}，{detail}{tail}",
                 "{time}{who}{act}，點知{detail}，{feel}"],
    },
    "en": {
        "time": ["this morning", "today", "tonight", "last night", "after work", "on my lunch break", "this weekend",
                 "just now", "all afternoon", "before bed", "on the train home", "at 2am", "yesterday", "earlier",
                 "on Saturday", "first thing today"],
        "who": ["", "", "", " with my sister", " with the kids", " with my roommate", " alone", " with my partner",
                " with coworkers", " with my dad", " with my best friend", " with the neighbours"],
        "act": ["went grocery shopping", "cleaned the whole apartment", "made dumplings from scratch",
                "took the dog to the beach", "fixed the kitchen sink", "binged three episodes of that show", "ran 5k",
                "finished the quarterly report", "sat through the longest meeting", "tried the new ramen place",
                "painted the fence", "watched the game", "assembled an IKEA wardrobe", "baked way too many cookies",
                "went to the dentist", "studied for finals", "walked around the park", "changed a flat tyre",
                "repotted all my plants", "cooked my mum's curry recipe", "did laundry for a week", "biked to work"],
        "feel": ["so tired", "feeling great", "not bad at all", "totally worth it", "never again", "exhausted",
                 "pretty proud of myself", "kind of bored", "so happy", "could sleep for a week", "what a day",
                 "no regrets", "starving now", "weirdly relaxed"],
        "tail": ["", "", "", "", " lol", " haha", " :)", " ugh", " tbh", " fr", "!!", "..."],
        "detail": ["my {pet} stole my sandwich", "the {food} place downstairs closed", "my phone fell in the sink",
                   "the bus never came", "the neighbours are drilling again", "it's raining sideways", "the wifi died",
                   "the kettle broke", "found money in my old coat", "my {relative} called for an hour",
                   "the {food} place finally reopened", "the heating is broken again"],
        "food": ["pizza", "ramen", "dim sum", "taco", "bubble tea", "bakery", "burger", "pho", "curry"],
        "pet": ["cat", "dog", "puppy", "parrot", "hamster"],
        "relative": ["mum", "dad", "sister", "brother", "aunt", "grandma", "cousin", "best friend", "old roommate"],
        "place": ["Toronto", "Sydney", "London", "Vancouver", "Melbourne", "New York", "Singapore", "Manchester",
                  "Berlin", "Taipei", "Hong Kong", "LA", "Auckland"],
        "react": ["I honestly don't know what to say", "it made me so angry", "I had to put my phone down",
                  "we ended up arguing", "it's heartbreaking", "I can't stop thinking about it", "nobody agreed",
                  "it's hard to watch", "I'm speechless"],
        "span": ["the whole evening", "an hour", "all morning", "way too long"],
        "app": ["YouTube", "Facebook", "Instagram", "Reddit", "the news", "TikTok"],
        "angle": ["{time}{who} we talked about {topic} and {react}", "my {relative} in {place} says {rel_state}",
                  "spent {span} reading about {topic}, {feel}", "saw a video about {topic} on {app} {time}, {react}",
                  "been living in {place} for years and {react}", "{time} I {act}{who} and kept thinking about {topic}"],
        "rel_state": ["everything is normal there", "people are scared", "it's tense", "life goes on",
                      "it's nothing like the news", "it's worse than the news says"],
        "life": ["{time_c} I {act}{who}, {feel}{tail}", "{detail_c} {time}, {feel}{tail}",
                 "{time_c} I {act}. {detail_c}{tail}", "{time_c}{who} I {act} and {detail}. {feel_c}{tail}",
                 "{detail_c} {time}. Guess I {act} instead{tail}", "finally {act}{who}{time_s}, {feel}{tail}"],
        "time_s": ["", " today", " this weekend", " tonight"],
    },
}
# Campaign topic nouns (what people talk about) and stance clauses: subject x predicate.
_TOPIC: dict[str, dict[str, list[str]]] = {
    "hk_2019": {"zh": ["香港的事", "修例风波", "机场的事", "游行", "香港局势"], "zht": ["示威", "香港", "警察", "721", "831"],
                "en": ["Hong Kong", "the protests", "the airport sit-in", "the extradition bill", "what's happening in HK"]},
    "covid_2020": {"zh": ["疫情", "口罩", "封城", "新冠", "病毒溯源"], "zht": ["疫情", "口罩", "封關", "武漢肺炎"],
                   "en": ["the virus", "lockdown", "the outbreak", "masks", "the pandemic"]},
    "xinjiang_2021": {"zh": ["新疆棉花", "新疆的事", "抵制洋品牌", "制裁", "H&M"], "zht": ["新疆", "集中營", "制裁"],
                      "en": ["Xinjiang", "the cotton boycott", "the camps", "the sanctions", "Uyghurs"]},
}
_STANCE: dict[str, dict[str, dict[str, tuple[list[str], list[str]]]]] = {
    "hk_2019": {
        "pro": {"zh": (["那些暴徒", "黑衣人", "一小撮搞事的", "反对派", "某些外媒", "美国政客", "那些议员", "港独分子",
                        "背后的金主", "煽动学生的人", "那些蒙面的人", "所谓的民主派"],
                       ["也太过分了", "根本不在乎普通市民", "就是想搞乱香港", "到底想要什么", "迟早要付出代价",
                        "真让人看不下去", "把年轻人当枪使", "从来不提自己的暴力", "只会双重标准", "把香港害惨了",
                        "打着民主的旗号干坏事", "欺负香港警察老实", "连机场都不放过"]),
                "en": (["the rioters", "these so-called protesters", "western politicians", "the mob",
                        "foreign-funded groups", "the radicals", "the people behind this", "CNN and the BBC"],
                       ["have gone way too far", "don't care about ordinary people", "are destroying the city",
                        "want chaos, not democracy", "attacked a journalist at the airport", "set fires in MTR stations",
                        "never show the violence", "are using teenagers as shields"])},
        "opp": {"zht": (["啲警察", "黑警", "政府", "林鄭", "建制派", "啲白衣人", "港鐵", "官媒", "中聯辦", "啲速龍"],
                        ["濫暴", "完全唔聽民意", "當我哋係暴徒", "又喺度講大話", "冇人性", "仲有冇底線", "又封站",
                         "拉學生", "睇住啲人被打都唔理", "喺{district}亂放催淚彈"]),
                "en": (["the police", "the government", "Carrie Lam", "pro-Beijing thugs", "the MTR", "state media",
                        "the liaison office", "the riot police"],
                       ["fired tear gas at students again", "still won't listen", "called us rioters",
                        "lied on TV again", "closed the stations to stop us going home", "arrested a 15-year-old",
                        "did nothing in Yuen Long", "beat people in {district_en} tonight"])},
    },
    "covid_2020": {
        "pro": {"zh": (["美国政客", "西方媒体", "某些国家", "特朗普", "蓬佩奥", "那些甩锅的人", "外媒", "武汉的医护",
                        "方舱医院", "社区工作者", "援鄂医疗队", "快递小哥"],
                       ["只会甩锅", "自己抗疫不力还怪中国", "从来不反思", "把病毒政治化", "又在造谣",
                        "欠中国一个道歉", "太伟大了", "辛苦了", "真的了不起", "让人泪目", "是最美逆行者"]),
                "en": (["US politicians", "western media", "Trump", "people blaming China", "Pompeo",
                        "Wuhan's doctors", "China's lockdown", "the medical teams sent abroad"],
                       ["keep blaming China instead of fixing their own mess", "politicise the virus",
                        "ignore the Fort Detrick questions", "wasted the time China bought", "saved countless lives",
                        "deserve so much respect"])},
        "opp": {"zht": (["政府", "官媒", "世衛", "特首", "中共", "啲建制"],
                        ["仲唔封關", "隱瞞疫情", "啲數字信唔過", "對台灣唔公平", "冇口罩派", "當市民白痴"]),
                "en": (["the CCP", "WHO", "Chinese officials", "state media", "Beijing", "the Hong Kong government"],
                       ["silenced Dr Li Wenliang", "covered up the outbreak for weeks", "ignored Taiwan's warnings",
                        "can't be trusted with their numbers", "is spreading the Fort Detrick conspiracy",
                        "refused to close the border"])},
    },
    "xinjiang_2021": {
        "pro": {"zh": (["那些品牌", "H&M", "耐克", "郑国恩", "西方政客", "某些外媒", "BCI", "新疆的棉花", "新疆的葡萄",
                        "喀什老城", "新疆人民"],
                       ["不尊重中国消费者", "一边抹黑新疆一边赚中国的钱", "根本没去过新疆", "就是想遏制中国",
                        "编的谎言太离谱", "真的很好", "没有任何问题", "太美了", "热情好客", "值得一去"]),
                "en": (["Zenz's numbers", "these brands", "western politicians", "the BBC", "the sanctions",
                        "people who never visited Xinjiang"],
                       ["don't add up", "want to have it both ways", "keep recycling the same claims",
                        "only hurt the farmers", "are pure politics"])},
        "opp": {"zht": (["集中營", "強迫勞動", "中共", "呢啲品牌", "新疆棉"],
                        ["必須關閉", "唔可以再忽視", "仲喺度否認", "應該撤出新疆", "背後有血汗"]),
                "en": (["the camps", "forced labour", "the CCP", "these brands", "the sanctions", "the cotton industry"],
                       ["are not schools", "is built into the supply chain", "keeps denying what satellite images show",
                        "should cut ties with Xinjiang suppliers", "are long overdue", "has to be investigated"])},
    },
}
_VOICE = {  # account-level picks: each person keeps a few favourite openers, remarks and emoji
    "open_zh": ["说实话，", "看了新闻，", "刚刷到视频，", "我妈问我，", "在国外这么多年，", "不得不说，", "唉，",
                "今天跟同事聊起来，", "真心觉得", "有一说一，", "讲真，", "怎么说呢，", "我就想问，", "个人觉得", "其实",
                "服了，", "无语，", "emmm ", "醒醒吧，", "笑死，", "讲道理，"],
    "open_en": ["Honestly, ", "Just saw the news. ", "Not gonna lie, ", "Can we talk about how ", "My two cents: ",
                "Watching this from abroad, ", "Ok so ", "Reminder: ", "Wow. ", "Serious question: ", "Look, ",
                "I keep saying it: ", "Unpopular opinion: ", "Hot take: ", "So ", "Real talk, "],
    "remark_zh": ["大家怎么看？", "我是真的不理解", "心疼", "转发让更多人看到", "无语了", "希望早日好起来", "顶", "支持！",
                  "说得太对了", "气死我了", "唉，说多了都是泪", "不说了，睡觉", "就这样吧", "你们觉得呢", "我不管，反正我支持",
                  "真的够了", "默默点赞", "求别吵了"],
    "remark_en": ["What do you think?", "Just my opinion.", "Sad to see.", "Unbelievable.", "Stay safe everyone.",
                  "smh", "Thoughts?", "Mind blown.", "Rant over.", "Sorry not sorry.", "Fight me.", "Anyway.",
                  "Just saying.", "I'm so tired of this.", "Be kind to each other."],
    "switch_en": ["tbh", "omg", "lol", "so sad", "no words", "wtf", "really", "anyway", "respect", "totally"],
    "switch_zh": ["加油", "唉", "真的", "无语", "哈哈", "心疼"],
}
_EXCLAIM = ["", "!", "!!", "！", "！！", "。", "…", "?!", "~"]


def _expand(t: str, slots: dict[str, list[str]], r: random.Random, depth: int = 0) -> str:
    """Expand {slot}s from `slots` (recursively); unknown slots are left for _fill."""
    out, i = [], 0
    while True:
        j = t.find("{", i)
        if j < 0:
            out.append(t[i:])
            break
        k = t.find("}", j)
        name = t[j + 1:k]
        out.append(t[i:j])
        if name in slots and depth < 6:
            out.append(_expand(r.choice(slots[name]), slots, r, depth + 1))
        else:
            out.append(t[j:k + 1])
        i = k + 1
    return "".join(out)


_SLOT_CACHE: dict[tuple[str, str, str], dict[str, list[str]]] = {}


def _slots(camp: str, lang: str, side: str) -> dict[str, list[str]]:
    key = (camp, lang, side)
    if key not in _SLOT_CACHE:
        g = dict(_G[lang])
        g["topic"] = _TOPIC[camp].get(lang) or _TOPIC[camp]["en"]
        if lang == "en":  # capitalised sentence starts
            g["time_c"] = [x[:1].upper() + x[1:] for x in g["time"]]
            g["detail_c"] = ["My {pet} stole my sandwich", "The {food} place downstairs closed", "The bus never came",
                             "My phone fell in the sink", "Wifi died again", "The neighbours are drilling again",
                             "My {relative} called for an hour", "It's raining sideways"]
            g["feel_c"] = [x[:1].upper() + x[1:] for x in g["feel"]]
        st = _STANCE[camp].get(side, {})
        pair = st.get(lang) or st.get({"zh": "zht", "zht": "zh"}.get(lang, "en")) or st.get("en")
        if pair:
            g["subj"], g["pred"] = pair
            lines = _ORGANIC["patriot" if side == "pro" else "opposition"][camp]
            g["line"] = lines.get(lang) or lines.get({"zh": "zht", "zht": "zh"}.get(lang, "en")) or lines["en"]
            g["stance"] = ["{subj}" + (" " if lang == "en" else "") + "{pred}"] * 3 + ["{line}"]
        _SLOT_CACHE[key] = g
    return _SLOT_CACHE[key]


def make_voice(label: str, r: random.Random) -> dict:
    """An account's own style: a few favourite openers/remarks/emoji, punctuation habit,
    code-switching and length (people differ, and stay themselves)."""
    return {
        "open_zh": r.sample(_VOICE["open_zh"], 5) + [""] * r.randint(2, 6),
        "open_en": r.sample(_VOICE["open_en"], 5) + [""] * r.randint(2, 6),
        "remark_zh": r.sample(_VOICE["remark_zh"], 5) + [""] * r.randint(1, 5),
        "remark_en": r.sample(_VOICE["remark_en"], 5) + [""] * r.randint(1, 5),
        "emoji": r.sample(_EMOJI, 3),
        "excl": r.choice(_EXCLAIM),
        "switch": r.random() * 0.25,  # zh/en code-switching
        "long": 0.5 + 0.45 * r.random(),  # how often a post carries more than one clause
    }


def _voice(acct: Account, r: random.Random) -> dict:
    if not acct.voice:
        acct.voice = make_voice(acct.label, r)
    return acct.voice


def _organic_post(camp: Campaign, side: str, lang: str, acct: Account, r: random.Random, topical: bool) -> str:
    """One organic post: stance and/or personal clauses in the account's voice."""
    v = _voice(acct, r)
    g = _slots(camp.name, lang, side)
    zh = lang != "en"
    sep, end = ("，" if zh else ", "), v["excl"]
    parts = []
    if topical and "subj" in g:
        parts.append(_expand("{stance}", g, r))
    if (not parts) or r.random() < v["long"]:
        parts.append(_expand(r.choice(["{angle}", "{angle}", "{life}"]) if topical else "{life}", g, r))
    if topical and r.random() < v["long"] * 0.5 and "subj" in g:
        parts.append(_expand("{stance}", g, r))
    elif not topical and r.random() < v["long"] * 0.6:
        parts.append(_expand(r.choice(["{life}", "{detail}"]), g, r))
    if len(parts) > 1 and r.random() < 0.5:
        parts[0], parts[1] = parts[1], parts[0]
    text = sep.join(p for p in parts if p) + end
    opener = r.choice(v["open_zh" if zh else "open_en"])
    if topical and opener:
        text = opener + (text if zh or not text[1:2].islower() else text[:1].lower() + text[1:])
    elif not zh:
        text = text[:1].upper() + text[1:]
    remark = r.choice(v["remark_zh" if zh else "remark_en"]) if topical else ""
    if remark:
        text += (" " if not zh or r.random() < 0.5 else "") + remark
    if r.random() < v["switch"]:  # code-switching zh/en, common among HK and diaspora users
        text += " " + r.choice(_VOICE["switch_en" if zh else "switch_zh"])
    return _fill(text, r)


# Journalists: lead x subject x verb x context x pointer, so stories vary reporter to reporter.
_J_EN: dict[str, list[str]] = {
    "jlead": ["", "", "New: ", "Scoop: ", "Thread: ", "Worth reading: ", "Update: ", "Context: ", "From our reporter: ",
              "Analysis: ", "Important: "],
    "jsubj": ["State media", "The foreign ministry", "A network of new accounts", "Pro-Beijing accounts",
              "Officials in Beijing", "Government supporters", "Several embassy accounts", "Anonymous accounts",
              "Nationalist influencers", "Party newspapers"],
    "jverb": ["now push the {q} line", "are again pointing to {q}", "amplified claims about {q}",
              "doubled down on the {q} narrative", "began posting about {q} within hours", "recycle the {q} talking point",
              "are coordinating around {q}"],
    "jctx": ["", "this week", "since Monday", "in a sudden burst", "after the weekend's events", "as pressure grows",
             "in English and Chinese", "overnight"],
    "jptr": ["", "Details below", "Our analysis:", "Data here", "More soon", "Story:", "Read more", "1/"],
    "jdetail": ["Most were created in {month}", "Many have default profile pictures", "Some posted in Spanish before",
                "Several reuse the same photos", "Activity peaks at 9am Beijing time", "About half have no followers",
                "Few have any engagement", "Some were bought from spammers", "The wording is nearly identical",
                "Posting stops on weekends", "Many were hashed in the archive", "The hashtags came in waves"],
    "jdetail2": ["we counted {n}", "per our data", "says a researcher", "archived here", "we checked {n} of them",
                 "says {outlet}", "a source told us"],
    "outlet": ["ASPI", "SIO", "Graphika", "DFRLab", "our data team", "a Twitter spokesperson"],
    "month": ["January", "March", "May", "June", "August", "October", "December", "a single week", "two batches"],
    "jstory": ["{jlead}{jsubj} {jverb} {jctx}. {jdetail}. {jptr}", "{jlead}{jsubj} {jverb}, {jctx}. {jdetail}, {jdetail2}. {jptr}",
               "{jlead}{jdetail}: {jsubj} {jverb} {jctx}. {jptr}", "{jlead}{jquote} {jdetail}. {jptr}"],
}
# Headline templates shared by news feeds and by people sharing a link with its title (the
# share button pre-fills the article title): the organic near-duplicates of real data.
_NEWS_MORE: dict[str, dict[str, list[str]]] = {
    "hk_2019": {"en": ["Protesters and police clash in {district_en} for a {nth} weekend",
                       "Hong Kong's MTR suspends services at {district_en} station",
                       "China warns against foreign interference in Hong Kong",
                       "Thousands rally in {district_en} as protests enter {nth} month",
                       "Hong Kong police arrest dozens after {district_en} clashes"],
                "zht": ["{district}站暫停服務", "警方於{district}拘捕多人", "大批市民於{district}集會"]},
    "covid_2020": {"en": ["{country_en} confirms first coronavirus death", "{country_en} closes borders to curb virus spread",
                          "Virus death toll in {country_en} rises to {n}", "WHO warns {country_en} over rising cases",
                          "Stocks slide as {country_en} extends lockdown"],
                   "zh": ["{country}确诊病例累计超过{n}例", "{country}宣布封锁边境", "世卫组织：{country}疫情形势严峻"]},
    "xinjiang_2021": {"en": ["{country_en} lawmakers call Xinjiang abuses genocide", "Retailers review Xinjiang cotton sourcing",
                             "China hits back at {country_en} over Xinjiang sanctions",
                             "Satellite images show new facilities near {city_en}"],
                      "zh": ["{country}议会通过涉疆议案", "外交部回应{country}涉疆制裁"]},
}
_J_ZH: dict[str, list[str]] = {
    "jlead": ["", "", "【更新】", "独家：", "分析：", "最新：", "记者观察：", "追踪："],
    "jsubj": ["官方媒体", "外交部", "一批新注册的账号", "亲北京账号", "多个使馆账号", "匿名账号", "民族主义大V", "党报"],
    "jverb": ["再次强调{q}的说法", "集中转发关于{q}的内容", "开始统一口径谈{q}", "大量复制{q}的叙事"],
    "jctx": ["", "，本周尤其明显", "，数小时内出现上千条", "，中英文同时发布", "，时间高度一致"],
    "jptr": ["", "。详见报道", "。数据见下", "。持续更新", "（一）"],
    "jdetail": ["多数账号创建于同一周", "很多账号没有头像", "部分账号曾发西语广告", "发帖集中在北京时间上班时段",
                "措辞几乎一模一样", "周末几乎不发帖", "大半账号没有粉丝"],
    "jstory": ["{jlead}{jsubj}{jverb}{jctx}，{jdetail}{jptr}", "{jlead}{jdetail}：{jsubj}{jverb}{jctx}{jptr}",
               "{jlead}{jquote}，{jdetail}{jptr}"],
}
_TO_ZHT = str.maketrans("强调说开统谈叙事详见报亲账号时间发现数据续记观察独家这们为无对于动", "強調說開統談敘事詳見報親賬號時間發現數據續記觀察獨家這們為無對於動")
_NTH = ["second", "third", "fourth", "fifth", "tenth", "12th"]

# IO message bank: each narrative claim is issued in many variants (lead-ins, closers, slot
# fillings, reworded phrases), and each variant is posted by many accounts with small edits
# [TW19][SIO20][ASPI20: the same messages pushed by many accounts in waves].
_IO_LEAD = {"zh": ["大家看看，", "真相是：", "必须说一句，", "转起来！", "再说一遍：", "事实胜于雄辩，", "请大家擦亮眼睛，",
                   "铁证如山！", "【关注】", "【热点】", "说句公道话，", "扩散！"],
            "zht": ["大家睇下，", "真相係：", "轉發！", "【關注】", "講句公道話，"],
            "en": ["Wake up! ", "The truth: ", "Facts: ", "Let's be clear. ", "Share this. ", "Again: ",
                   "Everyone should know: ", "FACT: ", "Reminder: "]}
_IO_CLOSE = {"zh": ["请转发", "大家怎么看？", "真相只有一个。", "谎言终将破产。", "支持！", "公道自在人心。",
                    "不能再沉默了。", "中国加油！", "让世界听到真实的声音。", "历史会证明一切。", "顶起来"],
             "zht": ["請轉發", "公道自在人心。", "支持！", "香港加油！"],
             "en": ["Share if you agree.", "The truth will prevail.", "Stop the lies.", "Think about it.", "Period.",
                    "The world is watching.", "Facts matter.", "Enough is enough."]}
_IO_SYN = {"zh": [("必须", "一定要"), ("真是", "实在是"), ("所谓", "所谓的"), ("不能", "不可以"), ("大家", "各位"),
                  ("目的", "目的就"), ("完全", "根本"), ("香港市民", "香港同胞"), ("谎言", "谣言"), ("真正", "真实")],
           "zht": [("支持", "撐"), ("市民", "香港人"), ("停止", "立即停止")],
           "en": [("must", "has to"), ("lies", "fake news"), ("Stop", "End"), ("The world", "Everyone"),
                  ("real", "true"), ("Western media", "Mainstream media"), ("so-called", "alleged"), ("No ", "NO ")]}
_IO_EXTRA: dict[str, dict[str, list[str]]] = {  # more claims per narrative line
    "hk_2019": {"zh": ["香港警察是香港最后的守护者，向他们致敬{end}", "暴徒在机场殴打记者和旅客，这就是他们说的民主？{end}",
                       "{foreign}一边喊人权，一边给{thugs}递汽油弹{end}", "止暴制乱是全体香港市民的共同心愿{end}"],
                "en": ["Rioters beat a reporter at the airport. Is this democracy{end_en}",
                       "The US funds the chaos in Hong Kong and calls it freedom{end_en}"]},
    "covid_2020": {"zh": ["美国欠世界一个解释，德特里克堡到底发生了什么{end}", "中国用两个月控制了疫情，西方用两个月甩锅{end}",
                          "{foreign}政客抹黑中国抗疫，无耻至极{end}"],
                   "en": ["China controlled the outbreak in two months. The West spent two months blaming China{end_en}",
                          "Open Fort Detrick to international investigation{end_en}"]},
    "xinjiang_2021": {"zh": ["新疆是个好地方，欢迎来{city}走一走{end}", "所谓强迫劳动是彻头彻尾的谎言，新疆棉农收入越来越高{end}",
                             "{media}从来不去新疆，却天天编新疆的故事{end}"],
                      "en": ["Xinjiang cotton farmers earn more every year. The forced labour story is a lie{end_en}",
                             "{media_en} have never been to Xinjiang but keep writing about it{end_en}"]},
}
_GREET = {"zh": ["早安", "早上好", "晚安", "大家早上好", "周末愉快", "新年快乐", "早安，打工人"],
          "zht": ["早晨", "早晨呀", "晚安", "周末愉快"],
          "en": ["Good morning", "Good morning everyone", "Good night", "Happy Friday", "Happy Monday", "Morning all"]}


def make_text_bank(camp: Campaign, n_io: int, n_ctl: int, r: random.Random) -> dict:
    """Per-campaign shared texts: the IO message bank (variants reused by many accounts, sized
    so each is posted ~10 times whatever the sample size) and the headlines of the day."""
    io: dict[str, tuple[list[str], list[float]]] = {}
    for lang in ("zh", "zht", "en"):
        share = max(camp.io_lang.get(lang, 0.0), 0.08)
        claims = _IO_TEXT[camp.name].get(lang, []) + _IO_EXTRA[camp.name].get(lang, [])
        if not claims:
            continue
        size = max(2 * len(claims) // 3, int(round(n_io * share * 3)), 4)
        msgs = []
        for i in range(size):
            claim = _fill(claims[i % len(claims)] if i < len(claims) else r.choice(claims), r)
            if i >= len(claims) and r.random() < 0.5:  # two lines of the day in one post
                claim = claim + ("" if lang == "en" or claim[-1:] in "！。？…" else "。") + (" " if lang == "en" else "") \
                    + _fill(r.choice(claims), r)
            for a, b in _IO_SYN[lang]:
                if a in claim and r.random() < 0.3:
                    claim = claim.replace(a, b, 1)
            lead = r.choice(_IO_LEAD[lang]) if r.random() < 0.35 else ""
            close = r.choice(_IO_CLOSE[lang]) if r.random() < 0.35 else ""
            msgs.append(lead + claim + ((" " if lang == "en" else "") + close if close else ""))
        weights = [1.0 / (k + 3) ** 0.9 for k in range(size)]  # some lines pushed harder than others
        r.shuffle(weights)
        io[lang] = (msgs, weights)
    heads: dict[str, list[str]] = {}
    for lang in ("zh", "zht", "en"):
        pool = _NEWS[camp.name].get(lang, []) + _NEWS_MORE[camp.name].get(lang, [])
        if pool:
            size = max(len(pool), int(round(n_ctl * 0.04)))
            heads[lang] = [_fill(r.choice(pool).replace("{nth}", r.choice(_NTH)), r) for _ in range(size)]
    return {"io": io, "headlines": heads}


def _bank_message(acct: Account, lang: str, r: random.Random, viral: bool = False) -> tuple[str, str]:
    io = acct.bank["io"]
    lang = lang if lang in io else ({"zht": "zh", "zh": "zht"}.get(lang) if {"zht": "zh", "zh": "zht"}.get(lang) in io else "en")
    msgs, w = io[lang]
    if viral:  # organic copy-paste picks up the most pushed lines [SIO19: the Diba expedition]
        top = sorted(range(len(msgs)), key=lambda i: -w[i])[:20]
        return msgs[r.choice(top)], lang
    return r.choices(msgs, weights=w)[0], lang


def _headline(camp: Campaign, acct: Account, lang: str, r: random.Random) -> tuple[str, str]:
    heads = acct.bank["headlines"]
    if lang not in heads:
        lang = {"zht": "zh", "zh": "zht"}.get(lang) if {"zht": "zh", "zh": "zht"}.get(lang) in heads else "en"
    return r.choice(heads[lang]), lang


def _small_edit(t: str, r: random.Random) -> str:
    """The copy-paste-with-small-edits pattern of IO text: punctuation, a dropped or swapped
    word, a prefix, an emoji [SIO20][ASPI20]."""
    k = r.random()
    if k < 0.2:
        t = t.replace("，", ",").replace("！", "!")
    elif k < 0.3 and len(t) > 12:
        i = r.randrange(len(t) - 1)
        t = t[:i] + t[i + 1:]
    elif k < 0.4:
        t = r.choice(["", "【转】", "转发：", "重要！", "", "RT ", "👉 "]) + t
    elif k < 0.5:
        lang = "en" if t.isascii() else "zh"
        for a, b in r.sample(_IO_SYN[lang], len(_IO_SYN[lang])):
            if a in t:
                t = t.replace(a, b, 1)
                break
    elif k < 0.6:
        t = t + " " + r.choice(_EMOJI)
    return t


def _organic_style(t: str, acct: Account, r: random.Random) -> str:
    """Per-person style: emoji, typos, lower case, repeated punctuation."""
    if acct.style["lower"] and t.isascii():
        t = t.lower()
    if r.random() < acct.style["typo"] and len(t) > 8:
        i = r.randrange(len(t) - 2)
        t = t[:i] + t[i + 1] + t[i] + t[i + 2:]
    if r.random() < acct.style["emoji"]:
        em = acct.voice.get("emoji") or _EMOJI
        t = t + " " + "".join(r.choice(em) for _ in range(r.randint(1, 3)))
    return t


def _lang_code(lang: str, text: str) -> str:
    if lang in ("zh", "zht"):
        return "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "und"
    return lang


def make_text(kind: str, camp: Campaign, acct: Account, r: random.Random) -> tuple[str, str, list[str], list[str]]:
    """Return (text, tweet_language, hashtags, urls) for one original tweet."""
    lang = _pick(r, acct.text_lang)
    tags: list[str] = []
    urls: list[str] = []
    link = False
    side = "pro"
    if kind == "narrative":
        text, lang = _bank_message(acct, lang, r)
        text = _small_edit(text, r)
        if acct.persona == "breaker" and r.random() < 0.5:
            # type-breakers paraphrase in their own words more often [SIO20]
            text = _organic_style(_organic_post(camp, "pro", lang, acct, r, True) if r.random() < 0.5
                                  else r.choice(_voice(acct, r)["open_en" if lang == "en" else "open_zh"]) + text, acct, r)
        link = r.random() < 0.25
    elif kind == "copypaste":
        text, lang = _bank_message(acct, lang, r, viral=True)
        text = _organic_style(_small_edit(text, r), acct, r)
        link = r.random() < 0.25
    elif kind == "camouflage":
        # verbatim proverbs, poems and quotes shared across IO accounts [TW21][REAL CNHU sample]
        k = r.random()
        if k < 0.4:
            text, lang = r.choice(_PROVERBS_EN), "en"
        elif k < 0.6:
            title, author, poem = r.choice(_POEMS_ZH)
            text, lang = (f"{title}&amp;{author}&amp;{poem}" if r.random() < 0.4 else poem.replace("。", "，", 1)), "zh"
        elif k < 0.8:
            text, lang = r.choice(_QUOTES_ZH), "zh"
        else:
            text, lang = r.choice(_DAILY_ZH) + r.choice([".", "。", "!!!!", "?", ""]), "zh"
        # camouflage posts carry a media link (t.co in the text, nothing in urls) [REAL CNHU]
        if r.random() < 0.7:
            text += " https://t.co/" + _tco(r)
        return text, lang, [], []
    elif kind in ("patriot", "opposition", "ordinary"):
        side = {"patriot": "pro", "opposition": "opp", "ordinary": "opp" if r.random() < 0.5 else "pro"}[kind]
        if side == "opp" and lang == "zh":
            lang = "zht"  # opposition voices write Traditional Chinese / Cantonese
        elif side == "pro" and lang == "zht" and camp.name != "hk_2019":
            lang = "zh"
        link = r.random() < acct.style["link"] * 0.5
        if link and r.random() < 0.35:
            # sharing an article: the share button pre-fills its title, sometimes with a comment
            text, lang = _headline(camp, acct, lang, r)
            if r.random() < 0.4:
                text = r.choice(_voice(acct, r)["remark_en" if lang == "en" else "remark_zh"]) + " " + text
        else:
            text = _organic_style(_organic_post(camp, side, lang, acct, r, kind != "ordinary" or r.random() < 0.6),
                                  acct, r)
            if r.random() < 0.03:  # slogans are repeated verbatim by many [e.g. 光復香港 時代革命]
                text = text + "\n\n" + ("光復香港 時代革命" if side == "opp" and camp.name == "hk_2019" else
                                        r.choice(_VOICE["remark_en" if lang == "en" else "remark_zh"]))
    elif kind == "journalist":
        side = "opp" if r.random() < 0.5 else "pro"
        if lang == "en" or r.random() < 0.3:
            g = dict(_J_EN, jquote=_JOURNALIST[camp.name]["en"])
            text, lang = " ".join(_expand("{jstory}", g, r).split()), "en"
            text = _fill(text, r)
        else:
            lang, pool = _lang_pool(_JOURNALIST[camp.name], lang)
            g = dict(_J_ZH, jquote=pool)
            text = _fill(_expand("{jstory}", g, r), r)
            if lang == "zht":
                text = text.translate(_TO_ZHT)
        link = r.random() < 0.6
    elif kind == "news":
        side = "news"
        text, lang = _headline(camp, acct, lang, r)
        text = r.choice(["", "", "", "BREAKING: ", "Update: ", "JUST IN: ", "【快讯】"]) + text
        link = r.random() < 0.9
    elif kind == "quotes":
        text, lang = (r.choice(_PROVERBS_EN), "en") if r.random() < 0.6 else (r.choice(_QUOTES_ZH), "zh")
        if r.random() < 0.5:  # people frame a quote in their own words
            text = (_organic_post(camp, "pro", lang, acct, r, False) + " " + text)
        return _organic_style(text, acct, r), lang, [], []
    elif kind == "spam":
        lang = r.choice(list(_SPAM))
        return r.choice(_SPAM[lang]) + " https://t.co/" + _tco(r), lang, [], []
    else:  # daily
        if acct.label == IO and acct.persona != "breaker":
            # IO small talk comes from the operators' shared pools [REAL CNHU]
            if lang == "en" or r.random() < 0.3:
                text, lang = r.choice(_DAILY_EN), "en"
            else:
                text, lang = r.choice(_DAILY_ZH), "zh"
            return _organic_style(text, acct, r), lang, [], []
        if r.random() < 0.05:  # greetings: the one kind of organic small talk everyone repeats
            g = r.choice(_GREET[lang])
            return _organic_style(g + r.choice(_EXCLAIM), acct, r), _lang_code(lang, g), [], []
        text = _organic_style(_organic_post(camp, "pro", lang, acct, r, False), acct, r)
        return text, _lang_code(lang, text), [], []
    if r.random() < acct.style["hashtag"]:
        tags = r.sample(_HASHTAGS[camp.name][side], k=min(len(_HASHTAGS[camp.name][side]), r.randint(1, 3)))
        text = text + " " + " ".join("#" + t for t in tags)
    if link:
        domains = _URL_GROUPS[_pick(r, acct.url_mix)]
        urls = [f"https://{r.choice(domains)}/{r.choice(['news', 'article', 'watch', 'p', '2019', '2020'])}/{r.randrange(10**6, 10**7)}"]
        text = text + " https://t.co/" + _tco(r)
    return text, _lang_code(lang, text), tags, urls


# --------------------------------------------------------------------------------------
# Tweets
# --------------------------------------------------------------------------------------


def _day_grid(camp: Campaign) -> tuple[np.ndarray, np.ndarray]:
    days = np.arange(camp.start.toordinal(), camp.end.toordinal() + 1)
    w = np.asarray([camp.month_weights.get((date.fromordinal(int(d)).year, date.fromordinal(int(d)).month), 0.5)
                    for d in days])
    return days, w


def _sample_times(acct: Account, n: int, days: np.ndarray, day_w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """UTC epoch seconds: local day from campaign intensity x personal weekday profile, local hour
    from the personal hour profile, then shifted by the account's UTC offset."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    p = day_w * acct.wday_w[(days - 1) % 7]  # date.toordinal() 1 is a Monday
    p = np.where(days >= acct.created.toordinal(), p, 0.0)
    if p.sum() == 0:
        p = np.ones_like(day_w)
    p = p / p.sum()
    d = days[rng.choice(len(days), size=n, p=p)]
    if acct.schedule == "uniform":
        # bots: regular intervals around the clock, a little jitter
        span = np.linspace(0, 1, n, endpoint=False) + rng.uniform(0, 1.0 / max(n, 1))
        t0, t1 = _epoch_s(date.fromordinal(int(max(days[0], acct.created.toordinal())))), _epoch_s(
            date.fromordinal(int(days[-1])))
        return (t0 + span * (t1 - t0) + rng.normal(0, 120, n)).astype(np.int64)
    h = rng.choice(24, size=n, p=acct.hour_w)
    secs = rng.integers(0, 3600, n)
    local = (d - date(1970, 1, 1).toordinal()).astype(np.int64) * 86400 + h * 3600 + secs
    return local - acct.tz * 3600


def _history_times(acct: Account, n: int, camp: Campaign, rng: np.random.Generator) -> np.ndarray:
    lo = max(_epoch_s(acct.created) + 86400, _epoch_s(date(2015, 1, 1)))
    hi = _epoch_s(camp.start) - 86400
    if n <= 0 or hi <= lo:
        return np.zeros(0, dtype=np.int64)
    return rng.integers(lo, hi, n)


def _tweet_id(ts: int, r: random.Random) -> int:
    ms = ts * 1000 + r.randrange(1000)
    return ((ms - _TWITTER_EPOCH_MS) << 22) | r.getrandbits(22)


def _client(acct: Account, ts: int, r: random.Random) -> str:
    c = r.choices(acct.clients[0], weights=acct.clients[1])[0]
    if c == "WEB":
        return "Twitter Web Client" if ts < _WEB_APP_LAUNCH_TS else "Twitter Web App"
    return c


def _counts(acct: Account, n: int, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """(quote, reply, like, retweet) counts of n tweets: heavy-tailed around the account's rate."""
    likes = rng.poisson(acct.engagement * rng.lognormal(0, 1.0, n))
    q, rp, rt = rng.poisson(likes * 0.03), rng.poisson(likes * 0.12), rng.poisson(likes * 0.3)
    return [(int(a), int(b), int(c), int(d)) for a, b, c, d in zip(q, rp, likes, rt)]


def _new_tweet(acct: Account, ts: int, text: str, lang: str, r: random.Random, **kw) -> dict:
    t = {"id": _tweet_id(int(ts), r), "acct": acct, "ts": int(ts), "text": text, "lang": lang,
         "client": _client(acct, int(ts), r), "reply": None, "quote": None, "rt": None,
         "counts": (0, 0, 0, 0), "hashtags": [], "urls": [], "mentions": []}
    t.update(kw)
    return t


def make_originals(camp: Campaign, acct: Account, n: int, days, day_w, rng, r) -> list[dict]:
    persona = PERSONAS[acct.persona]
    n_hist = int(rng.binomial(n, persona.history)) if n > 2 else 0
    times = np.concatenate([_history_times(acct, n_hist, camp, rng), _sample_times(acct, n - n_hist, days, day_w, rng)])
    kinds = dict(persona.content)
    counts = _counts(acct, len(times), rng)
    out = []
    for i, ts in enumerate(times):
        if i < n_hist:
            # pre-campaign history: spam / other languages for repurposed IO accounts [TW19][SIO19],
            # ordinary life for organic accounts
            kind = "spam" if persona.name in ("repurposed", "breaker") and r.random() < 0.8 else "daily"
        else:
            kind = _pick(r, kinds)
        text, lang, tags, urls = make_text(kind, camp, acct, r)
        out.append(_new_tweet(acct, ts, text, lang, r, hashtags=tags, urls=urls, counts=counts[i], kind=kind))
    return out


def _externals(camp: Campaign, r: random.Random) -> dict[str, list[tuple[str, str]]]:
    """Popular accounts outside the dumps that both classes retweet and reply to, by side:
    state media (amplified by IO [ASPI20] and by organic nationalists alike) and independent
    outlets / activists. Ids drawn once per campaign."""
    sides = {"pro": ["globaltimesnews", "XHNews", "CGTNOfficial", "PDChina", "HuXijin_GT", "SpokespersonCHN"],
             "any": ["SCMPNews", "hkfp", "Reuters", "BBCWorld", "WHO", "nytimes", "joshuawongcf"]}
    return {k: [(str(r.randrange(10**7, 3 * 10**9)), h) for h in v] for k, v in sides.items()}


def make_interactions(camp: Campaign, dump: list[Account], originals: list[dict], n_extra: dict[int, int],
                      externals, rng, r) -> list[dict]:
    """Retweets, replies and quotes: they point at originals of the same dump or at externals.

    Both classes retweet inside their dump and outside it; delays follow each account's
    habits (see _retweet_habits). Organic attention is concentrated on popular accounts
    (preferential attachment), so influencers and news feeds in the control dump collect
    fast retweets from many fans, as IO core accounts do from amplifiers. In-dump retweets
    also count toward the original's retweet/like counts, as they do in the releases [REAL].
    """
    targets = [t for t in originals if t.get("kind") in ("narrative", "camouflage", "patriot", "opposition",
                                                         "journalist", "news", "copypaste")]
    core_targets = [t for t in targets if t["acct"].persona in ("core", "repurposed", "camouflage", "breaker")]
    pop_w = {id(pool): w / w.sum() for pool, w in (
        (targets, np.sqrt(1.0 + np.asarray([t["acct"].followers for t in targets], float))),
        (core_targets, np.ones(len(core_targets)))) if len(pool)}
    days, day_w = _day_grid(camp)
    out = []
    for idx, acct in enumerate(dump):
        n = n_extra[idx]
        if n <= 0:
            continue
        persona = PERSONAS[acct.persona]
        pool = core_targets if (acct.label == IO and core_targets) else targets
        if not pool:
            continue
        own_times = _sample_times(acct, n, days, day_w, rng)
        picks = rng.choice(len(pool), size=n, p=pop_w[id(pool)])
        for j in range(n):
            u = r.random()
            kind = "retweet" if u < 1 - persona.reply - persona.quote else ("reply" if u < 1 - persona.quote else "quote")
            # IO mostly amplifies its own network (plus state media); organic users half/half
            inside = r.random() < acct.inside
            orig = pool[int(picks[j])]
            if orig["acct"] is acct:  # nobody retweets themselves here: take a neighbour
                orig = pool[(int(picks[j]) + 1) % len(pool)]
            if inside and orig["acct"] is not acct:
                ts = orig["ts"] + int(rng.lognormal(acct.rt_mu, acct.rt_sigma)) + 30
                if acct.rt_batched:
                    ts = _next_office_slot(ts, rng)
                if kind == "retweet":  # the network's own retweets and likes are in the counts [REAL]
                    q0, rp0, lk0, rt0 = orig["counts"]
                    orig["counts"] = (q0, rp0, lk0 + int(r.random() < 0.5), rt0 + 1)
                tuid, ttid, thandle, ttext = orig["acct"].userid, orig["id"], orig["acct"].screen_name, orig["text"]
                ttags = orig["hashtags"]
            else:
                side = "pro" if acct.label == IO or acct.persona in ("patriot", "new_organic") else "any"
                tuid, thandle = r.choice(externals[side])
                ts = int(own_times[j])
                ttid = _tweet_id(ts - int(rng.integers(600, 86400)), r)
                ttext, _, ttags, _ = make_text(_pick(r, PERSONAS[acct.persona].content), camp, acct, r)
            if kind == "retweet":
                # retweets carry "RT @handle: text" and zero engagement of their own [REAL]
                lang = "zh" if any("\u4e00" <= c <= "\u9fff" for c in ttext) else "en"
                out.append(_new_tweet(acct, ts, f"RT @{thandle}: {ttext}", lang, r, rt=(tuid, ttid),
                                      hashtags=list(ttags), mentions=[tuid], kind="retweet"))
            else:
                text, lang, tags, urls = make_text(_pick(r, persona.content), camp, acct, r)
                if kind == "reply":
                    out.append(_new_tweet(acct, ts, f"@{thandle} {text}", lang, r, reply=(tuid, ttid), hashtags=tags,
                                          urls=urls, mentions=[tuid], counts=_counts(acct, 1, rng)[0], kind="reply"))
                else:
                    out.append(_new_tweet(acct, ts, f"{text} https://t.co/{_tco(r)}", lang, r, quote=ttid,
                                          hashtags=tags, urls=urls, counts=_counts(acct, 1, rng)[0], kind="quote"))
    return out


def _next_office_slot(ts: int, rng: np.random.Generator) -> int:
    """First top of a Beijing office hour (weekdays 09-18, UTC+8) at or after ts, plus a few
    minutes: scheduled amplification batches [ASPI20]."""
    t = (int(ts) // 3600 + 1) * 3600
    for _ in range(24 * 4):
        g = time.gmtime(t + 8 * 3600)
        if g.tm_wday < 5 and 9 <= g.tm_hour < 18:
            break
        t += 3600
    return t + int(rng.integers(0, 1200))


def make_dump_tweets(camp: Campaign, dump: list[Account], externals, rng, r) -> list[dict]:
    days, day_w = _day_grid(camp)
    originals: list[dict] = []
    n_extra: dict[int, int] = {}
    for idx, acct in enumerate(dump):
        n_rt = int(rng.binomial(acct.n_tweets, acct.retweet_share))
        persona = PERSONAS[acct.persona]
        n_other = int(rng.binomial(acct.n_tweets - n_rt, persona.reply + persona.quote))
        n_orig = acct.n_tweets - n_rt - n_other
        if n_orig <= 0 and acct.persona != "amplifier":
            n_orig, n_rt = 1, max(0, n_rt - 1)
        n_extra[idx] = n_rt + n_other
        originals.extend(make_originals(camp, acct, n_orig, days, day_w, rng, r))
    tweets = originals + make_interactions(camp, dump, originals, n_extra, externals, rng, r)
    # tweet ids must be unique within the dump
    seen: set[int] = set()
    for t in tweets:
        while t["id"] in seen:
            t["id"] += 1
        seen.add(t["id"])
    for t in tweets:
        t["acct"].tweets.append(t)
    # files are not sorted by account or time in the releases [REAL CNHU]
    order = rng.permutation(len(tweets))
    return [tweets[i] for i in order]


# --------------------------------------------------------------------------------------
# Rows and writers
# --------------------------------------------------------------------------------------


def _profile_row(a: Account) -> list[str]:
    return [a.display_name, a.screen_name, a.location, a.description, a.url, str(a.followers), str(a.following),
            a.created.isoformat(), a.lang]


def _list_repr(vals: list[str], fmt: DumpFormat, r: random.Random) -> str:
    if not vals and r.random() < fmt.empty_list_share:
        return ""
    return repr(list(vals))


def tweet_row(t: dict, fmt: DumpFormat, poll: bool, r: random.Random) -> list[str]:
    a: Account = t["acct"]
    q, rp, lk, rt = (str(x) for x in t["counts"])
    if r.random() < 0.015:  # counts sometimes empty [REAL]
        q = rp = lk = rt = ""
    quote = ""
    if t["quote"] is not None:
        quote = repr(float(t["quote"])) if r.random() < fmt.float_quote_share else str(t["quote"])
    reply_uid, reply_tid = t["reply"] or ("", "")
    rt_uid, rt_tid = t["rt"] or ("", "")
    row = [str(t["id"]), a.userid, *_profile_row(a), t["lang"], t["text"],
           time.strftime("%Y-%m-%d %H:%M", time.gmtime(t["ts"])), t["client"], reply_uid, str(reply_tid), quote,
           fmt.true_false[0] if t["rt"] else fmt.true_false[1], rt_uid, str(rt_tid), "absent", "absent",
           q, rp, lk, rt, _list_repr(t["hashtags"], fmt, r), _list_repr(t["urls"], fmt, r),
           _list_repr(t["mentions"], fmt, r)]
    if poll:
        row.append("")
    return row


_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _api_time(ts: int) -> str:
    g = time.gmtime(ts)
    return f"{_DAYS[g.tm_wday]} {_MONTHS[g.tm_mon - 1]} {g.tm_mday:02d} {g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d} +0000 {g.tm_year}"


def tweet_json(t: dict, r: random.Random) -> dict:
    """One Twitter API v1.1 tweet object (the fields statelink reads)."""
    a: Account = t["acct"]
    q, rp, lk, rt = t["counts"]
    created = _epoch_s(a.created) + (int(a.userid[-5:]) % 86400 if a.userid.isdigit() else 43200)
    obj = {
        "created_at": _api_time(t["ts"]),
        "id_str": str(t["id"]),
        ("full_text" if r.random() < 0.85 else "text"): t["text"],
        "lang": t["lang"],
        "source": f'<a href="{_CLIENT_SOURCE.get(t["client"], "https://twitter.com")}" rel="nofollow">{t["client"]}</a>',
        "user": {"id_str": a.userid, "name": a.display_name, "screen_name": a.screen_name, "location": a.location,
                 "description": a.description, "url": a.url or None, "followers_count": a.followers,
                 "friends_count": a.following, "created_at": _api_time(created), "lang": a.lang},
        "in_reply_to_status_id_str": str(t["reply"][1]) if t["reply"] else None,
        "in_reply_to_user_id_str": t["reply"][0] if t["reply"] else None,
        "quoted_status_id_str": str(t["quote"]) if t["quote"] is not None else None,
        "entities": {"hashtags": [{"text": h} for h in t["hashtags"]],
                     "urls": [{"expanded_url": u} for u in t["urls"]],
                     "user_mentions": [{"id_str": m} for m in t["mentions"]]},
        "retweet_count": rt, "favorite_count": lk, "reply_count": rp, "quote_count": q,
    }
    if t["rt"]:
        obj["retweeted_status"] = {"id_str": str(t["rt"][1]), "user": {"id_str": t["rt"][0]}}
    return obj


def _csv_bytes(header, rows) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_dump(folder: Path, fmt: DumpFormat, poll: bool, accounts: list[Account], tweets: list[dict],
               r: random.Random) -> list[Path]:
    """Write one dump in its packaging; returns the files written."""
    files: list[Path] = []
    if fmt.users_file:
        users = [[a.userid, *_profile_row(a)] for a in accounts]
        files.append(folder / fmt.users_file)
        _write_bytes(files[-1], _csv_bytes(USERS_COLUMNS, users))
    if fmt.packaging == "jsonl":
        lines = "".join(json.dumps(tweet_json(t, r), ensure_ascii=False) + "\n" for t in tweets)
        files.append(folder / f"{fmt.tweets_stem}.jsonl")
        _write_bytes(files[-1], lines.encode("utf-8"))
        return files
    header = list(TWEETS_COLUMNS) + (["poll_choices"] if poll else [])
    rows = [tweet_row(t, fmt, poll, r) for t in tweets]
    if fmt.packaging == "parts":  # each part repeats the header
        half = (len(rows) + 1) // 2
        for i, chunk in enumerate((rows[:half], rows[half:]), start=1):
            files.append(folder / f"{fmt.tweets_stem}_part{i}.csv")
            _write_bytes(files[-1], _csv_bytes(header, chunk))
    elif fmt.packaging == "gz":
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:  # mtime=0: reproducible
            gz.write(_csv_bytes(header, rows))
        files.append(folder / f"{fmt.tweets_stem}.csv.gz")
        _write_bytes(files[-1], buf.getvalue())
    elif fmt.packaging == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            info = zipfile.ZipInfo(f"{fmt.tweets_stem}.csv", date_time=(2020, 6, 11, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, _csv_bytes(header, rows))
        files.append(folder / f"{fmt.tweets_stem}.zip")
        _write_bytes(files[-1], buf.getvalue())
    else:
        files.append(folder / f"{fmt.tweets_stem}.csv")
        _write_bytes(files[-1], _csv_bytes(header, rows))
    return files


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def _campaign_sizes(n: int, k: int) -> list[int]:
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def generate_sample(params: SampleParams, out_dir: Path) -> dict:
    """Write the bundled sample dumps under `out_dir`; same seed, same bytes.

    Returns {campaign: {label: {"accounts": n, "tweets": n, "files": [paths relative to out_dir]}}}.
    """
    out_dir = Path(out_dir)
    used: set[str] = set()  # userids across all campaigns: no collisions, no account in two dumps
    summary: dict = {}
    for ci, (camp, n) in enumerate(zip(CAMPAIGNS, _campaign_sizes(params.n_accounts, len(CAMPAIGNS)))):
        rng = np.random.default_rng(np.random.SeedSequence([params.seed, ci]))
        r = random.Random(int(rng.integers(2**62)))
        accounts = make_accounts(camp, n, params.tweets_per_account, rng, r, params.seed, used)
        externals = _externals(camp, r)
        bank = make_text_bank(camp, sum(a.label == IO for a in accounts), sum(a.label == CONTROL for a in accounts), r)
        for a in accounts:
            a.bank = bank
        summary[camp.name] = {}
        for label, fmt in ((IO, camp.io_format), (CONTROL, camp.control_format)):
            dump = [a for a in accounts if a.label == label]
            tweets = make_dump_tweets(camp, dump, externals, rng, r)
            dump = [a for a in dump if a.tweets]  # every listed account has at least one tweet
            files = write_dump(out_dir / camp.name / label, fmt, camp.poll_choices, dump, tweets, r)
            summary[camp.name][label] = {
                "accounts": len(dump),
                "tweets": len(tweets),
                "files": [f.relative_to(out_dir).as_posix() for f in files],
            }
    return summary
