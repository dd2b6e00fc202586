"""A third world in the archive format, written apart from the other two generators.

    python -m pipeline.dev.third --out data/raw/third [--seed 23] [--accounts 600]

It exists to test a model trained on the sample and the shifted world (issues 14, 15): a
model that has seen two generators is scored on one it has not. Its choices were made
without reading pipeline/dev/sample.py or pipeline/dev/shifted.py, from the archive's real
samples (../shared/real-samples) and the design, so that what transfers to it is not a
shared habit of one author's code:

- two campaigns of 2023-2024 (a Taiwanese election, the South China Sea) with their own
  wording, in Traditional and Simplified Chinese, English and a little Tagalog;
- activity drawn from a log-normal with a Pareto tail (a few news bots and heavy users
  with thousands of posts, many accounts with one to five);
- organic crowds that retweet the same viral posts of outside accounts within minutes of
  breaking news, and ride the same trending hashtags as the operation;
- news bots of one outlet network that post near-identical headlines round the clock,
  journalists who quote the operation's posts, organic users who share its stance;
- an operation in three cells that differ in type: office-hours writers in batch-created
  accounts, amplifiers with one to eight posts, and aged bought accounts that mostly post
  daily life from phone clients in the evening and retweet the writers hours later;
- tweet ids are Twitter snowflakes of the tweet time, user ids of old accounts are small
  numbers, and accounts with under 5,000 followers are hashed as the archive hashes them.

Each campaign is written as `<out>/<campaign>/<state_linked|control>/`, with the users
file and gzip-compressed tweets (the operation's in two parts), and `<out>/roles.csv` says
which role each account was drawn as (for analysis only; the pipeline never reads it).
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import hashlib
import io
import math
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pipeline.schema import TWEETS_COLUMNS, USERS_COLUMNS

DEFAULT_ACCOUNTS = 600
DEFAULT_SEED = 23
STATE_SHARE = 0.3
# Twitter's snowflake epoch (ms): tweet ids encode their creation time.
_SNOWFLAKE_EPOCH_MS = 1288834974657


# ---------------------------------------------------------------- campaigns and wording


@dataclass(frozen=True)
class Campaign:
    name: str
    code: str  # the operation's file prefix, as a release names its files
    start: date
    end: date
    local_tz: float  # hours east of UTC of the organic crowd most posts come from
    # The operation's talking points: (opening, claim, closing) banks per language.
    narrative: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]
    op_tags: tuple[str, ...]
    trend_tags: tuple[str, ...]
    op_domains: tuple[str, ...]
    news_domains: tuple[str, ...]
    # What organic users talk about: subject phrases per language.
    daily: dict[str, tuple[str, ...]]
    politics: dict[str, tuple[str, ...]]
    headlines: tuple[str, ...]
    places: tuple[str, ...]
    langs: tuple[str, ...]  # organic account languages, most common first


TAIWAN = Campaign(
    name="taiwan_election_2024",
    code="TWEL_0124",
    start=date(2023, 10, 1),
    end=date(2024, 1, 31),
    local_tz=8.0,
    narrative={
        "zh-tw": (
            ("大家醒醒吧，", "說真的，", "看清楚，", "朋友們，", "不得不說，", "請轉告身邊的人，"),
            (
                "民進黨執政八年，雞蛋都買不到了",
                "美國只會把台灣當棋子，疑美不是沒有道理",
                "投給執政黨就是把年輕人送上戰場",
                "兩岸和平才是台灣唯一的出路",
                "綠營的貪腐案一件接一件，媒體卻都不報",
                "所謂的抗中保台只是騙選票的口號",
                "美豬美牛進口，受害的是我們的孩子",
                "軍購花了幾千億，老百姓的薪水卻不漲",
            ),
            ("你還要再被騙四年嗎？", "這次一定要用選票教訓他們。", "台灣人要有自己的判斷。", "別讓下一代後悔。", ""),
        ),
        "en": (
            ("Wake up Taiwan.", "Let's be honest:", "Facts matter.", "Think about it.", ""),
            (
                "the ruling party has wasted billions on weapons while wages stay flat",
                "Washington will abandon Taiwan the moment it stops being useful",
                "voting for the DPP means choosing war over peace",
                "cross-strait peace is the only realistic future for the island",
                "corruption scandals keep piling up and the media stays silent",
            ),
            ("Don't be fooled again.", "Vote for peace.", "The choice is yours.", ""),
        ),
    },
    op_tags=("疑美論", "和平", "台灣選舉", "TaiwanElection", "PeaceNotWar", "蛋荒"),
    trend_tags=("台灣選舉", "TaiwanElection", "總統大選", "大選", "Taiwan"),
    op_domains=("huanqiu.com", "taiwan-truth.net", "crossstrait-today.com", "youtu.be"),
    news_domains=("udn.com", "ltn.com.tw", "cna.com.tw", "focustaiwan.tw", "reuters.com", "bbc.com"),
    daily={
        "zh-tw": (
            "今天的珍奶半糖少冰剛剛好", "下班塞車塞到懷疑人生", "週末去陽明山爬山，天氣超好",
            "中信兄弟今晚又逆轉了", "颱風假到底放不放", "夜市的雞排漲價了",
            "貓咪又把杯子推下桌", "剛看完新上映的電影，結局好扯", "捷運上有人在吃韭菜盒",
            "早餐店阿姨今天多送我一顆蛋", "終於把報告交出去了", "高鐵票又秒殺",
        ),
        "en": (
            "finally tried the beef noodle place everyone talks about", "rainy Taipei morning again",
            "my cat knocked the plant over", "the night market was packed tonight",
            "Monday meetings should be illegal", "just finished a great book on the MRT",
        ),
    },
    politics={
        "zh-tw": (
            "三組候選人的政見會看完了，各有優缺點", "青年住宅政策到底誰講得比較清楚",
            "投票日記得帶身分證和印章", "辯論會上的能源問題大家怎麼看",
            "對岸的軍機又繞台了，心累", "支持和平，但不要被統戰",
        ),
        "en": (
            "watched the presidential debate, energy policy was the weak spot for everyone",
            "turnout will decide this election more than the polls",
            "remember to go home and vote on the 13th",
        ),
    },
    headlines=(
        "中選會公布最新投票率預估", "三黨候選人今晚電視辯論", "央行維持利率不變",
        "Taiwan's election commission confirms ballot order", "Polls tighten ahead of Taiwan vote",
        "共機擾台 國防部持續監控", "雞蛋價格回穩 農業部說明", "Taiwan dollar edges higher",
    ),
    places=("台北", "新北", "台中", "高雄", "台南", "桃園", "Taipei, Taiwan", "Kaohsiung", "新竹", ""),
    langs=("zh-tw", "zh-tw", "zh-tw", "en", "zh-cn"),
)

SOUTH_CHINA_SEA = Campaign(
    name="south_china_sea_2024",
    code="CNPH_0724",
    start=date(2024, 2, 1),
    end=date(2024, 7, 31),
    local_tz=8.0,
    narrative={
        "en": (
            ("Let's be clear:", "History shows", "The truth is", "Once again", "Everyone should know"),
            (
                "the Philippines keeps provoking at Ren'ai Jiao under US instruction",
                "China's sovereignty over Nansha is indisputable and backed by history",
                "Manila's grounded warship is an illegal occupation",
                "the US is turning the South China Sea into a new battlefield",
                "Filipino fishermen suffer because Marcos serves Washington, not his people",
                "the 2016 arbitration ruling is null and void",
            ),
            ("Stop the provocation.", "Peace needs dialogue, not warships.", "Asia for Asians.", ""),
        ),
        "zh-cn": (
            ("事实很清楚，", "再次强调，", "大家看看，", ""),
            (
                "菲律宾在美国怂恿下不断在仁爱礁挑衅",
                "南沙群岛自古以来就是中国领土",
                "所谓南海仲裁裁决是一张废纸",
                "美国插手南海只会让地区更乱",
                "中国海警依法执法，合理合法",
            ),
            ("挑衅必遭反制。", "和平需要对话。", "美国别来添乱！", ""),
        ),
        "tl": (
            ("Totoo ba ito?", "Mga kababayan,", ""),
            ("ginagamit lang tayo ng Amerika laban sa China", "kawawa ang mga mangingisda dahil sa gobyerno"),
            ("Gising na!", ""),
        ),
    },
    op_tags=("SouthChinaSea", "RenaiJiao", "南海", "仁爱礁", "StopProvocation", "USOutOfAsia"),
    trend_tags=("SouthChinaSea", "WestPhilippineSea", "AyunginShoal", "南海", "Philippines"),
    op_domains=("globaltimes.cn", "news.cgtn.com", "asia-peace-voice.org", "youtu.be"),
    news_domains=("inquirer.net", "rappler.com", "philstar.com", "reuters.com", "apnews.com", "scmp.com"),
    daily={
        "en": (
            "traffic on EDSA is unreal today", "best sinigang I've had in years", "brownout again in our barangay",
            "rainy season officially started", "watching the PBA finals with the family",
            "coffee first, emails later", "the jeepney fare went up again",
        ),
        "tl": ("ang init ngayon grabe", "sarap ng merienda namin", "traffic na naman sa Commonwealth", "salamat sa lahat ng bumati"),
        "zh-cn": ("今天的早茶不错", "周末带孩子去海边", "又下暴雨了", "加班到十点"),
    },
    politics={
        "en": (
            "the coast guard footage from Ayungin is hard to watch",
            "our fishermen deserve protection in our own waters",
            "diplomacy first, but we cannot give up the West Philippine Sea",
            "both sides should de-escalate before someone gets killed",
        ),
        "tl": ("ipaglaban ang West Philippine Sea", "kawawa ang mga mangingisda natin"),
        "zh-cn": ("南海问题希望和平解决", "看了海警的视频，心情复杂"),
    },
    headlines=(
        "Philippine coast guard reports water cannon use near Ayungin Shoal",
        "China, Philippines trade accusations over collision", "PSE index closes higher",
        "Typhoon signal raised over northern Luzon", "DFA summons Chinese envoy",
        "Marcos meets Biden and Kishida in Washington", "Peso weakens against the dollar",
    ),
    places=("Manila", "Quezon City", "Cebu", "Davao City", "Philippines", "Makati", "Hong Kong", "广州", ""),
    langs=("en", "en", "tl", "en", "zh-cn"),
)

CAMPAIGNS = (TAIWAN, SOUTH_CHINA_SEA)

# A few words shown as they would be written in the other script or by a mainland writer:
# the operation's Taiwan cell writes Traditional characters with mainland vocabulary slips.
_MAINLAND_SLIPS = {"影片": "視頻", "品質": "質量", "網路": "網絡", "軟體": "軟件"}
_EMOJI = ("😂", "🙏", "👍", "🔥", "😡", "💔", "🇹🇼", "🇵🇭", "🌊", "✨", "🤔", "😭")
_FIRST = ("Mark", "Ana", "Jun", "Mei", "Kevin", "Grace", "Paolo", "Ivy", "Leo", "Rina", "Tom", "Joy", "Wei", "Ken")
_LAST = ("Lin", "Chen", "Santos", "Reyes", "Wang", "Cruz", "Huang", "Garcia", "Tsai", "Lee", "Bautista", "Wu")
_ZH_NAMES = ("小明", "阿哲", "雅婷", "志豪", "佳穎", "宗翰", "怡君", "家豪", "淑芬", "冠宇", "思妤", "建宏")
_ZH_DETAILS = ("等了{n}分鐘", "第{n}次了", "{h}點才到家", "花了{n}塊", "已經連續{n}天", "排隊排了{n}個人")
_EN_DETAILS = ("waited {n} minutes", "for the {n}th time", "home by {h}pm", "{n} pesos well spent", "day {n} of this", "{n} people in line")
_ZH_REACTIONS = ("", "哈哈", "好累", "真的假的", "笑死", "有人跟我一樣嗎", "太扯了吧", "好幸福", "唉")
_EN_REACTIONS = ("", "lol", "send help", "not complaining", "anyone else?", "love it", "ugh", "so worth it", "again??")
_ORGANIC_CLIENTS = (("Twitter for iPhone", 0.45), ("Twitter for Android", 0.3), ("Twitter Web App", 0.2), ("Twitter for iPad", 0.05))


# ---------------------------------------------------------------- accounts


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
    label: str
    role: str
    tz: float
    n_tweets: int
    clients: tuple[tuple[str, float], ...]
    hashed: bool = False
    hours: tuple[float, ...] = ()
    weekdays_only: bool = False
    posts: list[dict] = field(default_factory=list)


def _hash_id(rng: random.Random) -> str:
    """A 44-character base64 string, the shape of the archive's hashed ids."""
    return base64.b64encode(hashlib.sha256(rng.getrandbits(128).to_bytes(16, "big")).digest()).decode()


def _numeric_id(created: date, rng: random.Random) -> str:
    # Ids grow with time: small numbers for 2009 accounts, snowflakes after late 2013.
    ms = int(datetime(created.year, created.month, created.day, tzinfo=UTC).timestamp() * 1000)
    if created.year < 2014:
        return str(int(1e7 + (ms / 1000 - 1.23e9) * 5) + rng.randrange(1000))
    return str(((ms - _SNOWFLAKE_EPOCH_MS) << 22) | rng.getrandbits(22))


def _heavy_tail(rng: random.Random, median: float, sigma: float, cap: int) -> int:
    """Posts per account: log-normal body, a Pareto tail for one account in twenty."""
    n = rng.lognormvariate(math.log(median), sigma)
    if rng.random() < 0.05:
        n *= rng.paretovariate(1.2)
    return max(1, min(cap, int(round(n))))


def _hours(kind: str) -> tuple[float, ...]:
    """Weights of the 24 local hours for one kind of poster."""
    if kind == "office":  # a shift with a lunch break
        return tuple(1.0 if h in (9, 10, 11, 14, 15, 16, 17) else 0.25 if h in (8, 13, 18) else 0.01 for h in range(24))
    if kind == "evening":
        return tuple(0.05 if h < 7 else 0.3 if h < 18 else 1.0 for h in range(24))
    if kind == "bot":
        return tuple(1.0 for _ in range(24))
    # an ordinary person: sleep, a lunch peak, an evening peak
    return tuple(0.02 if 2 <= h <= 6 else 0.6 if h in (12, 13) else 1.0 if 20 <= h <= 23 else 0.35 for h in range(24))


def _organic_name(rng: random.Random, lang: str) -> tuple[str, str]:
    if lang.startswith("zh"):
        display = rng.choice(_ZH_NAMES) + rng.choice(("", "🌸", " | 讀書中", "_TW", ""))
        handle = rng.choice(("mingzhe", "yating", "kevin", "hao", "ivy", "ruru", "ahjie")) + str(rng.randrange(10, 9999))
    else:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        display = f"{first} {last}"
        handle = rng.choice((f"{first}{last}", f"{first.lower()}_{last.lower()}", f"{first}{rng.randrange(70, 99)}"))
    return display, handle[:15]


def _make_accounts(camp: Campaign, n: int, rng: random.Random) -> list[Account]:
    n_state = round(n * STATE_SHARE)
    n_org = n - n_state
    accounts: list[Account] = []
    days = (camp.end - camp.start).days

    # The operation: writers 25 %, amplifiers 50 %, aged bought accounts 25 %.
    batches = [camp.start - timedelta(days=rng.randrange(20, 400)) for _ in range(3)]
    op_langs = tuple(camp.narrative)
    for i in range(n_state):
        cell = "writer" if i < n_state * 0.25 else "amplifier" if i < n_state * 0.75 else "aged"
        if cell == "aged":
            created = date(rng.randrange(2011, 2020), rng.randrange(1, 13), rng.randrange(1, 28))
            followers, following = int(rng.lognormvariate(5.5, 1.0)), int(rng.lognormvariate(5.8, 0.8))
            lang = camp.langs[0]
            display, handle = _organic_name(rng, lang)
            tz, hours, clients = camp.local_tz, _hours("evening"), (("Twitter for Android", 0.6), ("Twitter for iPhone", 0.4))
            n_tweets = _heavy_tail(rng, 40, 0.9, 900)
            desc = rng.choice(("", "生活紀錄", "coffee, cats, and books", "愛旅行", "just vibes"))
        else:
            # Batch creation with jitter of a few days: not every writer on one day.
            created = rng.choice(batches) + timedelta(days=rng.choice((0, 0, 0, 1, 2, 5)))
            followers, following = rng.randrange(0, 12), rng.randrange(5, 120)
            lang = rng.choice(op_langs + ("zh-cn",))
            display, handle = _organic_name(rng, lang)
            handle = handle[:9] + "".join(rng.choice("0123456789") for _ in range(6))
            tz, hours = 8.0, _hours("office")
            clients = (("Twitter Web App", 0.8), ("TweetDeck", 0.2)) if cell == "writer" else (("Twitter Web App", 0.55), ("Twitter for Android", 0.45))
            n_tweets = _heavy_tail(rng, 35, 0.7, 600) if cell == "writer" else rng.randrange(1, 9)
            desc = rng.choice(("", "", "熱愛和平", "Truth seeker", "愛台灣", "Peace and prosperity"))
        accounts.append(
            Account(
                userid="", screen_name=handle, display_name=display, location=rng.choice(camp.places),
                description=desc, url="", followers=followers, following=following, created=created,
                lang=lang, label="state_linked", role=f"op_{cell}", tz=tz, n_tweets=n_tweets, clients=clients,
                hours=hours, weekdays_only=cell != "aged",
            )
        )

    roles = (
        ("daily", 0.38), ("political", 0.16), ("stance", 0.08), ("journalist", 0.07),
        ("news_bot", 0.05), ("newcomer", 0.16), ("diaspora", 0.10),
    )
    for _ in range(n_org):
        role = rng.choices([r for r, _ in roles], [w for _, w in roles])[0]
        lang = rng.choice(camp.langs)
        display, handle = _organic_name(rng, lang)
        tz, hours, clients = camp.local_tz, _hours("person"), _ORGANIC_CLIENTS
        created = date(rng.randrange(2009, 2024), rng.randrange(1, 13), rng.randrange(1, 28))
        followers, following = int(rng.lognormvariate(4.8, 1.6)), int(rng.lognormvariate(5.5, 1.0))
        n_tweets = _heavy_tail(rng, 14, 1.3, 3000)
        desc, url = rng.choice(("", "", "工程師", "mom of two", "學生", "views my own", "棒球迷", "foodie")), ""
        if role == "news_bot":
            outlet = rng.choice(camp.news_domains)
            display, handle = f"{outlet.split('.')[0].upper()} Feed {rng.randrange(1, 9)}", f"{outlet.split('.')[0]}_feed{rng.randrange(10, 99)}"
            hours, clients = _hours("bot"), (("dlvr.it", 0.6), ("IFTTT", 0.4))
            n_tweets, desc, url = rng.randrange(300, 2500), f"Automated headlines from {outlet}", f"https://{outlet}"
            followers = int(rng.lognormvariate(7.5, 1.2))
        elif role == "journalist":
            desc = rng.choice(("Reporter covering cross-strait affairs", "記者，關注兩岸與國防", "Correspondent. RTs not endorsements", "Maritime security reporter"))
            followers, clients = int(rng.lognormvariate(8.5, 1.0)), (("Twitter for iPhone", 0.5), ("Twitter Web App", 0.5))
            n_tweets, lang = _heavy_tail(rng, 60, 1.0, 3000), rng.choice(("en", camp.langs[0]))
        elif role == "newcomer":
            created = camp.start + timedelta(days=rng.randrange(0, max(1, days - 10)))
            followers, following, n_tweets = rng.randrange(0, 9), rng.randrange(0, 60), rng.randrange(1, 6)
        elif role == "diaspora":
            tz = rng.choice((-8.0, -5.0, 1.0, 10.0))
            lang = rng.choice(("en", camp.langs[0]))
        elif role == "stance":
            lang = rng.choice(("zh-cn", camp.langs[0], "en"))
        accounts.append(
            Account(
                userid="", screen_name=handle, display_name=display, location=rng.choice(camp.places),
                description=desc, url=url, followers=followers, following=following, created=created,
                lang=lang, label="control", role=role, tz=tz, n_tweets=n_tweets, clients=clients, hours=hours,
            )
        )

    for acc in accounts:
        # The archive hashes accounts with fewer than 5,000 followers.
        acc.hashed = acc.followers < 5000
        acc.userid = _hash_id(rng) if acc.hashed else _numeric_id(acc.created, rng)
        if acc.hashed:
            acc.screen_name = acc.display_name = acc.userid
    rng.shuffle(accounts)
    return accounts


# ---------------------------------------------------------------- posts


def _time(acc: Account, camp: Campaign, rng: random.Random) -> datetime:
    start = max(camp.start, acc.created)
    span = max(1, (camp.end - start).days)
    while True:
        day = start + timedelta(days=rng.randrange(span))
        if acc.weekdays_only and day.weekday() >= 5 and rng.random() < 0.9:
            continue
        hour = rng.choices(range(24), acc.hours)[0]
        local = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour, minutes=rng.randrange(60))
        return local - timedelta(hours=acc.tz)


def _snowflake(t: datetime, rng: random.Random) -> str:
    return str(((int(t.timestamp() * 1000) + rng.randrange(1000) - _SNOWFLAKE_EPOCH_MS) << 22) | rng.getrandbits(22))


def _pick(bank: dict[str, tuple], lang: str):
    return bank.get(lang) or bank.get("zh-tw" if lang.startswith("zh") else "en") or next(iter(bank.values()))


def _narrative(camp: Campaign, lang: str, rng: random.Random, slips: bool) -> str:
    openers, claims, closers = _pick(camp.narrative, lang)
    sep = "" if lang.startswith("zh") else " "
    text = sep.join(p for p in (rng.choice(openers), rng.choice(claims), rng.choice(closers)) if p)
    if slips:
        for tw, cn in _MAINLAND_SLIPS.items():
            text = text.replace(tw, cn)
    return text


def _daily(camp: Campaign, acc: Account, rng: random.Random) -> str:
    bank = camp.politics if acc.role in ("political", "diaspora") and rng.random() < 0.5 else camp.daily
    zh = acc.lang.startswith("zh")
    parts = [rng.choice(_pick(bank, acc.lang))]
    # People write distinct posts: a second thought, a time, a count, a reaction.
    if rng.random() < 0.5:
        parts.append(rng.choice(_pick(camp.daily, acc.lang)))
    if rng.random() < 0.6:
        n = rng.randrange(2, 60)
        parts.append(rng.choice(_ZH_DETAILS if zh else _EN_DETAILS).format(n=n, h=rng.randrange(1, 12)))
    parts.append(rng.choice(_ZH_REACTIONS if zh else _EN_REACTIONS))
    tail = rng.choice(("", "", rng.choice(_EMOJI), rng.choice(_EMOJI) * 2))
    return ("，" if zh else ", ").join(p for p in parts if p) + tail


def _text_lang(lang: str, text: str) -> str:
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return "zh"
    return "tl" if lang == "tl" else "en" if text.strip() else "und"


def _row(acc: Account, t: datetime, text: str, rng: random.Random, **kw) -> dict:
    client = rng.choices([c for c, _ in acc.clients], [w for _, w in acc.clients])[0]
    row = {
        "tweetid": _snowflake(t, rng), "userid": acc.userid, "tweet_time": t.strftime("%Y-%m-%d %H:%M"),
        "tweet_text": text, "tweet_language": _text_lang(acc.lang, text), "tweet_client_name": client,
        "is_retweet": "False", "hashtags": [], "urls": [], "user_mentions": [],
        "quote_count": 0, "reply_count": 0, "like_count": 0, "retweet_count": 0, "_t": t,
    }
    row.update(kw)
    return row


def _engagement(acc: Account, rng: random.Random) -> dict:
    scale = math.log1p(acc.followers)
    return {
        "like_count": int(rng.expovariate(1 / max(0.2, scale**1.6))),
        "retweet_count": int(rng.expovariate(1 / max(0.1, scale**1.2))),
        "reply_count": int(rng.expovariate(1 / max(0.1, scale * 0.5))),
        "quote_count": int(rng.expovariate(1 / max(0.1, scale * 0.2))),
    }


def _original(acc: Account, camp: Campaign, t: datetime, rng: random.Random) -> dict:
    tags: list[str] = []
    urls: list[str] = []
    if acc.role.startswith("op_") and (acc.role != "op_aged" or rng.random() < 0.3):
        text = _narrative(camp, acc.lang, rng, slips=acc.lang == "zh-tw" and rng.random() < 0.4)
        if rng.random() < 0.6:
            tags = rng.sample(camp.op_tags, rng.randrange(1, 3))
        if rng.random() < 0.35:
            urls = [f"https://{rng.choice(camp.op_domains)}/{rng.getrandbits(40):x}"]
    elif acc.role == "news_bot":
        # Outlets' feeds share headlines (organic near-duplicates), with their own updates.
        text = rng.choice(camp.headlines) + rng.choice(("", "", " | update", f" ({rng.randrange(2, 40)})", " — live", "（更新）"))
        urls = [f"{acc.url}/news/{rng.getrandbits(36):x}"]
        if rng.random() < 0.3:
            tags = [rng.choice(camp.trend_tags)]
    elif acc.role == "stance":
        # Organic users who share the operation's stance, in their own words and at their own hours.
        claims = _pick(camp.narrative, acc.lang)[1]
        text = rng.choice(("我覺得", "I think ", "honestly ", "")) + rng.choice(claims) + rng.choice(("", "，我是這麼看的", " imo", "。"))
        if rng.random() < 0.4:
            tags = [rng.choice(camp.trend_tags + camp.op_tags[:2])]
    else:
        text = _daily(camp, acc, rng)
        if acc.role in ("journalist", "political", "diaspora") and rng.random() < 0.4:
            urls = [f"https://{rng.choice(camp.news_domains)}/{rng.getrandbits(32):x}"]
        if rng.random() < 0.15:
            tags = [rng.choice(camp.trend_tags)]
    text = " ".join([text] + [f"#{h}" for h in tags if f"#{h}" not in text] + [f"https://t.co/{rng.getrandbits(40):x}"[:23] for _ in urls])
    return _row(acc, t, text, rng, hashtags=tags, urls=urls, **_engagement(acc, rng))


def _retweet(acc: Account, src: dict, handle: str, t: datetime, rng: random.Random) -> dict:
    text = f"RT @{handle}: {src['tweet_text']}"
    return _row(
        acc, t, text, rng, is_retweet="True", retweet_userid=src["userid"], retweet_tweetid=src["tweetid"],
        hashtags=list(src["hashtags"]), urls=list(src["urls"]), user_mentions=[src["userid"]],
    )


def _viral_pool(camp: Campaign, rng: random.Random, n: int = 120) -> list[tuple[dict, str, float]]:
    """Posts of outside accounts (celebrities, outlets, officials; not in the dump) that
    organic crowds retweet, with Zipf popularity."""
    pool = []
    outsiders = [(str(rng.randrange(10**7, 10**9)), rng.choice(("CNA_news", "TaiwanNews", "inquirerdotnet", "rapplerdotcom", "JayChou_fan", "MLB", "NASA", "BBCWorld", "official_gov", "F1")) ) for _ in range(30)]
    days = (camp.end - camp.start).days
    for rank in range(1, n + 1):
        uid, handle = rng.choice(outsiders)
        t = datetime(camp.start.year, camp.start.month, camp.start.day, tzinfo=UTC) + timedelta(minutes=rng.randrange(days * 1440))
        text = rng.choice((rng.choice(camp.headlines), rng.choice(_pick(camp.daily, "en")), rng.choice(_pick(camp.politics, camp.langs[0]))))
        tags = [rng.choice(camp.trend_tags)] if rng.random() < 0.5 else []
        src = {"tweetid": _snowflake(t, rng), "userid": uid, "tweet_text": text + "".join(f" #{h}" for h in tags), "hashtags": tags, "urls": [], "_t": t}
        pool.append((src, handle, 1.0 / rank**1.1))
    return pool


def _posts(accounts: list[Account], camp: Campaign, rng: random.Random) -> None:
    viral = _viral_pool(camp, rng)
    weights = [w for _, _, w in viral]
    writers = [a for a in accounts if a.role == "op_writer"]
    # Writers first: everything the amplifiers and aged accounts retweet must exist.
    for acc in sorted(accounts, key=lambda a: a.role != "op_writer"):
        for _ in range(acc.n_tweets):
            t = _time(acc, camp, rng)
            r = rng.random()
            if acc.role == "op_writer":
                post = _original(acc, camp, t, rng)
                # Copy-paste: one writer's text reused by another with a little padding.
                donors = [p for w in writers if w is not acc for p in w.posts[-3:]] if r < 0.25 else []
                if donors:
                    post["tweet_text"] = rng.choice(donors)["tweet_text"] + rng.choice(("", " " + rng.choice(_EMOJI), " !!", "。"))
                acc.posts.append(post)
                continue
            if acc.role in ("op_amplifier", "op_aged") and writers and r < (0.85 if acc.role == "op_amplifier" else 0.35):
                src_acc = rng.choice(writers)
                if src_acc.posts:
                    src = rng.choice(src_acc.posts)
                    lag = timedelta(minutes=rng.randrange(1, 25)) if acc.role == "op_amplifier" else timedelta(hours=rng.uniform(2, 40))
                    acc.posts.append(_retweet(acc, src, src_acc.screen_name, src["_t"] + lag, rng))
                    continue
            rt_share = {"daily": 0.4, "newcomer": 0.8, "political": 0.45, "stance": 0.35, "diaspora": 0.4, "journalist": 0.2, "news_bot": 0.0}.get(acc.role, 0.1)
            if r < rt_share:
                src, handle, _w = rng.choices(viral, weights)[0]
                # Breaking news: most of a viral post's retweets come in its first hour.
                lag = timedelta(minutes=rng.expovariate(1 / 25)) if rng.random() < 0.6 else timedelta(hours=rng.uniform(1, 72))
                acc.posts.append(_retweet(acc, src, handle, src["_t"] + lag, rng))
                continue
            if acc.role == "journalist" and writers and rng.random() < 0.3:
                src_acc = rng.choice(writers)
                if src_acc.posts:
                    src = rng.choice(src_acc.posts)
                    text = rng.choice(("State-linked accounts are pushing this line:", "又是這套說法：", "Watch how this talking point spreads:"))
                    row = _row(acc, max(t, src["_t"] + timedelta(hours=1)), f"{text} https://t.co/{rng.getrandbits(30):x}", rng,
                               quoted_tweet_tweetid=src["tweetid"], **_engagement(acc, rng))
                    acc.posts.append(row)
                    continue
            acc.posts.append(_original(acc, camp, t, rng))


# ---------------------------------------------------------------- writing


def _cell(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(repr(x) for x in v) + "]"
    return "" if v is None else str(v)


def _profile(acc: Account) -> dict:
    return {
        "userid": acc.userid, "user_display_name": acc.display_name, "user_screen_name": acc.screen_name,
        "user_reported_location": acc.location, "user_profile_description": acc.description,
        "user_profile_url": acc.url, "follower_count": acc.followers, "following_count": acc.following,
        "account_creation_date": acc.created.isoformat(), "account_language": acc.lang,
    }


def _csv(rows: list[dict], columns: tuple[str, ...]) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c, "")) for c in columns])
    return buf.getvalue().encode("utf-8")


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _tweet_rows(accounts: list[Account]) -> list[dict]:
    rows = []
    for acc in accounts:
        prof = _profile(acc)
        for p in acc.posts:
            rows.append({**prof, **{k: v for k, v in p.items() if k != "_t"}, "latitude": "absent", "longitude": "absent", "_t": p["_t"]})
    rows.sort(key=lambda r: r["_t"])
    return rows


def generate_world(seed: int = DEFAULT_SEED, n_accounts: int = DEFAULT_ACCOUNTS, out_dir: Path | str = "data/raw/third") -> dict:
    """Write the third world under `out_dir` and return {campaign: {label: {accounts, tweets}}}."""
    out = Path(out_dir)
    rng = random.Random(seed)
    summary: dict = {}
    roles: list[tuple[str, str, str, str]] = []
    per = [n_accounts // len(CAMPAIGNS) + (i < n_accounts % len(CAMPAIGNS)) for i in range(len(CAMPAIGNS))]
    for camp, n in zip(CAMPAIGNS, per, strict=True):
        accounts = _make_accounts(camp, n, rng)
        _posts(accounts, camp, rng)
        summary[camp.name] = {}
        for label in ("state_linked", "control"):
            mine = [a for a in accounts if a.label == label]
            folder = out / camp.name / label
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.iterdir():
                old.unlink()
            prefix = camp.code if label == "state_linked" else f"{camp.code.lower()}_control"
            _write(folder / f"{prefix}_users_csv_hashed.csv", _csv([_profile(a) for a in mine], USERS_COLUMNS))
            rows = _tweet_rows(mine)
            parts = 2 if label == "state_linked" else 1
            size = math.ceil(len(rows) / parts)
            for i in range(parts):
                chunk = rows[i * size : (i + 1) * size]
                name = f"{prefix}_tweets_csv_hashed" + (f"_{i + 1}" if parts > 1 else "") + ".csv.gz"
                _write(folder / name, gzip.compress(_csv(chunk, TWEETS_COLUMNS), mtime=0))
            summary[camp.name][label] = {"accounts": len(mine), "tweets": len(rows)}
            roles += [(a.userid, camp.name, label, a.role) for a in mine]
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("userid", "campaign", "label", "role"))
    w.writerows(roles)
    _write(out / "roles.csv", buf.getvalue().encode("utf-8"))
    return summary


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("data/raw/third"))
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS)
    args = ap.parse_args(argv)
    summary = generate_world(args.seed, args.accounts, args.out)
    for camp, labels in summary.items():
        for label, n in labels.items():
            print(f"{camp}/{label}: {n['accounts']} accounts, {n['tweets']} tweets")


if __name__ == "__main__":
    main()
