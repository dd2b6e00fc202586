"""A shifted world: a second, independent generator of archive-format dumps.

The bundled sample (sample.py) is one set of choices; a model that scores well on it may
only have learnt those choices. This module is written from scratch with other choices
throughout, so that a model trained on the sample can be tested on data written "by other
hands". `generate_world(seed, n_accounts, out_dir)` writes two campaigns of its own, each a
state-linked dump and a control dump:

    out_dir/zero_covid_2022/{state_linked,control}/   2022: zero-COVID, "US biolabs",
                                                      the Pelosi visit, the white-paper protests
    out_dir/strait_2023/{state_linked,control}/       2023: the balloon, Tsai's stopover,
                                                      Fukushima water, the Maui fires

Where it differs from the sample on purpose (the point of a second world):
- operators work shifts in UTC+8 that are not 09-18 (07-15, 15-23 and a 22-06 shift that
  targets US daytime), with personal rota days off instead of weekends;
- IO core work is cells of accounts that copy a daily script with light edits and retweet
  each other's obscure posts within minutes (mutual amplification);
- IO type-breakers: old "sleeper" accounts with many followers, night posting on phones and
  original text, and fake Western personas writing their own English;
- organic communities co-retweet the same viral posts within minutes to hours, ride the
  same trending hashtags and share the same news links; news bots repost the same wire
  headline within minutes of each other; journalists quote the narratives verbatim;
  organic nationalists share the stance and the state-media posts; friend circles retweet
  each other; brand-new accounts post a handful of tweets;
- activity is Pareto-tailed (a third of accounts post 1-5 tweets, a few thousands); IO
  clients are phone-heavy;
- spellings are per campaign, never per label: one campaign hashes every account under
  5,000 followers (the release rule), writes `true/false`, `[]` and mention ids as bare ints;
  the other hashes about half (some in the older 64-hex style), writes `True/False`, empty
  lists as empty fields and retweet counts empty; a few organic posts carry coordinates;
- packaging: a gzipped tweets file, a gzipped users file, one zip holding both files, and a
  tweets file split in three parts.

Every account of a dump is in its users file, including some that never tweeted.

Everything is drawn from one numpy Generator and one random.Random per campaign, both
seeded from `seed`; nothing depends on set or hash order; gzip and zip headers carry fixed
times: the same seed gives the same bytes. Standard library and numpy only.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import math
import random
import re
import statistics
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

STATE, ORGANIC = "state_linked", "control"
DEFAULT_ACCOUNTS = 1000
TWEETS_PER_ACCOUNT = 30  # mean over all accounts; the median is far lower (heavy tail)
MAX_TWEETS_PER_ACCOUNT = 3000

# Archive columns (docs/DESIGN.md, "Data contract"), spelled out here so that this module
# needs nothing from the package.
USERS_HEADER = ("userid", "user_display_name", "user_screen_name", "user_reported_location",
                "user_profile_description", "user_profile_url", "follower_count", "following_count",
                "account_creation_date", "account_language")
TWEETS_HEADER = ("tweetid", *USERS_HEADER, "tweet_language", "tweet_text", "tweet_time", "tweet_client_name",
                 "in_reply_to_userid", "in_reply_to_tweetid", "quoted_tweet_tweetid", "is_retweet", "retweet_userid",
                 "retweet_tweetid", "latitude", "longitude", "quote_count", "reply_count", "like_count",
                 "retweet_count", "hashtags", "urls", "user_mentions")

_SNOWFLAKE_EPOCH_MS = 1288834974657
_SNOWFLAKE_USERS_FROM = date(2016, 6, 1)  # user ids became snowflakes in 2016
# Sequential user ids before that: roughly the first id of each year (public id/date pairs).
_SEQ_ID_BY_YEAR = {2007: 6e5, 2008: 1.4e7, 2009: 1.9e7, 2010: 1.03e8, 2011: 2.4e8, 2012: 4.6e8, 2013: 1.1e9,
                   2014: 2.3e9, 2015: 2.98e9, 2016: 4.75e9, 2017: 8.2e9}


# ======================================================================================
# Vocabulary. One block of `key: item|item|...` lines (a repeated key appends); items may
# hold {key} slots, expanded recursively. Keys starting with a campaign code (zc., st.) are
# that campaign's; `text()` looks there first. Written for this world; nothing is taken
# from the releases or from sample.py.
# ======================================================================================

_LEXICON_TEXT = """
zh.when: 今天|昨天|刚刚|早上|中午|傍晚|半夜|周末|下班路上|午饭后|这两天|凌晨三点|睡前|一大早|周一早上
zh.did: 去菜场买了条鱼|在家煮了碗面|跑了五公里|排队做核酸|加班到九点|去看了场电影|陪娃写作业|去爬了香山|背了两页单词
zh.did: 给猫剪指甲|去医院拿药|打了两把王者|追了三集剧|收拾了阳台|修好了自行车|骑车去江边|搬了个家|去面试|逛了一下午商场
zh.did: 拍了好多晚霞|烤了一盘饼干|睡了一整天|去理了个发|帮朋友搬家|做了顿大餐
zh.home: 躺平|打游戏|看书|刷手机|睡觉|做饭|拼乐高|听播客
zh.mood: 累得不想说话|开心到飞起|有点emo|心满意足|整个人都放松了|笑得肚子疼|有点想哭|困死了|饿坏了|血压都上来了|幸福感爆棚|人麻了|满血复活|无语了
zh.tail: |||哈哈|哈哈哈哈|呜呜|啧|吧|啊|。|…|！|～|hhhh|😂|🥲|🤣
zh.weather: 下大雨|热到四十度|突然降温|雾霾好重|出大太阳|刮大风|下冰雹|闷得透不过气|下雪了
zh.snack: 奶茶|烤冷面|臭豆腐|冰粉|炸串|锅包肉|鸡蛋灌饼|糖葫芦|杨枝甘露|烤红薯|螺蛳粉|热干面|肉夹馍
zh.adj: 好吃|离谱|上头|难顶|绝了|一般般|贵得要命|惊艳|踩雷了
zh.ask: 哪里能买到退烧药|机票怎么退|哪个梯子好用|深圳哪里租房便宜|快递怎么还不到|有什么好看的剧|新手机买哪个|猫不吃饭怎么办
zh.city: 上海|北京|广州|深圳|成都|杭州|武汉|西安|南京|重庆|郑州|乌鲁木齐|厦门|长沙|昆明
zh.abroad: 温哥华|多伦多|悉尼|墨尔本|伦敦|纽约|洛杉矶|东京|新加坡|吉隆坡|奥克兰|旧金山
zh.daily: {zh.when}{zh.did}，{zh.mood}{zh.tail}|{zh.when}{zh.weather}，只好在家{zh.home}{zh.tail}|这家{zh.snack}真的{zh.adj}{zh.tail}
zh.daily: 有没有人知道{zh.ask}？|在{zh.abroad}想吃{zh.snack}想疯了{zh.tail}|{zh.when}和朋友去吃{zh.snack}，{zh.mood}
zh.daily: 又是{zh.mood}的一天{zh.tail}|{zh.city}{zh.weather}了，大家注意安全|{zh.when}{zh.home}了一下午，{zh.mood}{zh.tail}
zt.when: 今天|昨天|剛剛|早上|中午|傍晚|半夜|週末|下班後|這兩天|凌晨|颱風天
zt.did: 去夜市吃宵夜|騎Ubike去河濱|排隊買雞排|去看了棒球|在家追劇|加班到十點|去爬象山|搭高鐵回南部|去海邊看夕陽
zt.did: 整理房間|陪阿嬤去看醫生|去全聯買東西|打了一整天Switch|去咖啡廳讀書|去看演唱會|去廟裡拜拜
zt.mood: 累到不行|超開心|有點厭世|好滿足|笑死|好想哭|快睡著了|餓扁了|心好累|爽啦|覺得很療癒
zt.tail: |||哈哈|XD|欸|啦|喔|耶|…|！|😆|🤣|QQ
zt.place: 台北|台中|高雄|台南|新竹|花蓮|宜蘭|桃園|基隆|香港|九龍|沙田
zt.food: 雞排|滷肉飯|珍奶|蚵仔煎|牛肉麵|鹽酥雞|豆花|小籠包|菠蘿包|魚蛋|蛋塔|臭豆腐
zt.observe: 捷運上有人在吃東西|公車司機超兇|便利商店又漲價|颱風假又沒放|外送等了一小時|房租又漲了|隔壁在裝潢吵整天|機車停車位又被佔
zt.daily: {zt.when}{zt.did}，{zt.mood}{zt.tail}|{zt.place}的{zt.food}還是最好吃{zt.tail}|{zt.observe}，{zt.mood}{zt.tail}
zt.daily: {zt.when}在{zt.place}{zt.did}{zt.tail}|有人推薦{zt.place}哪裡的{zt.food}嗎？|今天也是{zt.mood}的一天{zt.tail}
en.when: Today|This morning|Tonight|Just now|Finally|Last night|This weekend|After work|Sunday
en.did: made sourdough again|ran my first 10k|fixed the bike|watched the game with friends|cleaned the whole flat
en.did: tried the new ramen place|missed the train|finished a 600-page novel|took the dog to the beach|painted the spare room
en.did: got my booster|binged three episodes|burned the rice|learned to make dumplings
en.mood: feeling great|so tired|honestly proud of myself|can't stop laughing|need a nap|worth it|what a day|absolutely wrecked|living my best life|not ok
en.mood2: exhausted|bored|stressed|happy for no reason|hungry all day
en.tail: |||!|!!|.|...| lol| haha| 😅| 🙃
en.daily: {en.when} I {en.did}, {en.mood}{en.tail}|{en.when}: {en.did}. {en.mood}{en.tail}|Anyone else {en.mood2} today?
en.daily: {en.when} {en.did} and honestly {en.mood}{en.tail}
zh.react: 这也太{zh.adj}了吧|卧槽|看哭了|笑死我了|支持！|太离谱了|我不信|求后续|破防了
zt.react: 太扯了吧|笑死|哭了|好感動|真的假的|這個讚|救命
en.react: omg|I can't believe this|crying|this is wild|lmao|no way|W|huge|this is it
zh.reply: 真的假的|哈哈哈哈哈|同意|+1|太真实了|求链接|这也行？|说得对|我也是|笑死
zt.reply: 真的假的|笑死|同意|+1|好扯|推|我也覺得|XD
en.reply: lol|Source?|This!!|So true|Wait what|Agreed|Not sure about that|😂😂|Same here|Exactly
zh.troll: 又在造谣，拿了多少钱？|反华小丑|请尊重事实|你去过中国吗？|别再撒谎了|无耻的反华媒体
zt.troll: 又在造謠|請尊重事實|反華媒體無恥
en.troll: Stop spreading lies about China.|How much are you paid to write this?|Fake news as usual.
en.troll: Have you ever been to China?|Shameful journalism.|Another hit piece. Sad.
zh.cheer: 说得太好了|支持|顶|👍👍|讲得好|完全同意|必须转
zt.cheer: 說得好|支持|完全同意|讚
en.cheer: Well said!|Exactly this.|100% agree|Truth!|Great point
zh.scene: 黄山日出|桂林山水|西湖夜景|九寨沟的秋天|稻城亚丁|张家界云海|洱海边的晚霞|喀纳斯湖|鼓浪屿|青海湖
en.scene: Guilin|the Yellow Mountains|West Lake|Jiuzhaigou|Zhangjiajie|Erhai Lake|Qinghai Lake
emo.scene: 🌄|🏞|✨|😍|🌸|🐱|🍜|💕|🌅|🐼
zh.camo: 分享一组{zh.scene}的照片，美到窒息{emo.scene}|周末打卡{zh.scene}{emo.scene}|{zh.scene}，人间仙境{emo.scene}
zh.camo: 今日份的可爱猫咪{emo.scene}|教大家做{zh.snack}，超简单{emo.scene}|{zh.scene}的清晨，空气真好|熊猫宝宝吃竹子，太萌了{emo.scene}
en.camo: Stunning view of {en.scene} this morning {emo.scene}|Cute cat of the day {emo.scene}|{en.scene} looks like a painting {emo.scene}
en.camo: Morning walk by {en.scene} {emo.scene}|Baby panda eating bamboo {emo.scene}
en.w_open: As a retired teacher from {en.town},|I've lived in {en.cncity} for six years and|Honestly,|Nobody wants to hear this but
en.w_open: My husband and I visited China last year and|Been thinking about this all week:|Unpopular opinion:
en.w_close: .|. Just saying.|. Change my mind.|. Do your own research.|. Peace ✌️|. Sad but true.
en.town: Ohio|Tulsa|Spokane|Fresno|Duluth|Boise|Akron|Reno|Leeds|Bristol
en.cncity: Shenzhen|Chengdu|Hangzhou|Xiamen|Kunming|Suzhou
zc.w_claim: zero-COVID kept people alive while we buried a million|the Ukraine biolab story deserves real answers
zc.w_claim: our media will never show you how calm Shanghai really is|the protests were blown up by people with an agenda
zc.w_claim: Pelosi's trip was about her legacy, not Taiwan
st.w_claim: the balloon thing was blown way out of proportion|Taiwan is China's business, not ours
st.w_claim: Japan's wastewater dump should worry every Pacific nation|the Maui response was a disgrace and nobody asks why
st.w_claim: selling more weapons to Taiwan makes nobody safer
zh.s_open: 我在国外生活了十几年，|从小在农村长大的我，|最近读了不少资料，|朋友问我怎么看，|深夜睡不着，想说几句心里话：|作为一个老推友，|刷了一晚上推特，
zh.s_reason: 数据不会说谎|历史早有答案|看看他们自己的新闻就知道|身边的例子太多了|时间会证明一切|明眼人都看得出来
zh.s_close: 愿世界和平。|晚安。|希望更多人看清真相。|共勉。|不想吵，只想说实话。|你们怎么看？
zc.s_claim: 中国的防疫让我父母平安度过了这三年|外面的世界没有那么美好|美国的医疗系统根本顶不住|乌克兰那些实验室值得好好查一查|街头那点事被外媒放大了一百倍
st.s_claim: 两岸同胞血浓于水|台湾问题是中国的内政|太平洋不是日本的下水道|美国的霸权终究会衰落|一个气球就把美国吓成这样
zh.p_open: 作为海外华人，|说句公道话，|我就想问，|看了外媒的报道，|不得不说，|身在国外才知道，|有一说一，|我是真的看不下去了，|刚跟老外同事吵了一架，
zh.p_close: 🇨🇳|💪|！|。|支持祖国|不服来辩|懂的都懂|中国加油|🙏|😤
zc.p_claim: 清零保护了我们的父母|西方的防疫才是一塌糊涂|美国自己的事都管不好|中国人的事轮不到外人指手画脚|那些闹事的背后肯定有人撑腰|佩洛西就是来添乱的
st.p_claim: 台湾从来都是中国的一部分|美国就是想拿台湾当棋子|日本排核污水太没良心了|那个气球就是气象用的，至于吗|两岸迟早要统一|美国自己的山火都救不了
zc.slogan: 上海加油！我们一定能挺过去💪|致敬每一位大白🙏|不信谣不传谣，相信国家|中国人民不可欺！
st.slogan: 反对日本核污水排海，保护我们的海洋🌊|祖国统一 势不可挡🇨🇳|台湾是中国的台湾|抵制日货，从我做起
en.take: Thread: what the news on {topic.en} actually means for ordinary people 🧵
en.take: I've covered China for a decade and never seen anything like {topic.en}.|Hot take: nobody in DC understands {topic.en}.
en.take: This video is going everywhere right now. {topic.en} in one clip.|Say what you want about {topic.en}, but the memes are elite.
en.take: Long read on {topic.en}, worth your time.|Everyone has an opinion on {topic.en} today. Here's mine.
zt.take: 關於{topic.zt}，我想說幾句|這張照片太有感了，{topic.zt}|{zt.place}今晚好多人，大家都在聊{topic.zt}|整理一下{topic.zt}的時間線
zh.take: 墙内已经删光了，大家存一下|关于{topic.zh}，说点真话|刚刚在{zh.city}拍的，{topic.zh}|{topic.zh}这事，你们怎么看？|整理了一下{topic.zh}的来龙去脉
zc.topic.en: the Shanghai lockdown|zero-COVID|the Twitter takeover|the World Cup|the Pelosi visit|the Sitong bridge banner|the white paper protests
zc.topic.zh: 上海封控|清零|四通桥|世界杯|马斯克收购推特|白纸|乌鲁木齐大火
zc.topic.zt: 上海封城|白紙運動|裴洛西訪台|世界盃|清零政策
st.topic.en: the balloon|Tsai's stopover|the Fukushima release|ChatGPT|the Maui fires|the WBC|Barbenheimer
st.topic.zh: 气球事件|淄博烧烤|核污水排海|特种兵旅游|ChatGPT|台海局势
st.topic.zt: 氣球事件|經典賽|蔡英文過境|核處理水|杜蘇芮颱風
en.rep_quote: State-linked accounts are pushing the same line again: "{io}"|Seeing dozens of brand-new accounts post "{io}" word for word.
en.rep_quote: State media today: "{io}" No evidence given.|The talking point of the week, from a foreign ministry briefing: "{io}"
zt.rep_quote: 官媒今天的口徑：「{io}」|又看到一批新帳號在貼同一句話：「{io}」|中國外交部今天又說：「{io}」
en.rep_own: On the ground in {en.repplace}. More soon.|My latest, on {topic.en}.|Long day. Filed on {topic.en}.
en.rep_own: New: what we learned about {topic.en} this week.|Quick thread on {topic.en} and what comes next.
zt.rep_own: 今天在{zt.place}採訪，晚點發稿|關於{topic.zt}的最新報導|整理{topic.zt}的各方說法
en.repplace: Taipei|Hong Kong|Shanghai|Beijing|Tokyo|Washington|Kinmen|Hualien
zc.head.en: Shanghai extends lockdown as daily cases climb|Pelosi lands in Taipei despite warnings from Beijing
zc.head.en: China holds live-fire drills around Taiwan|Elon Musk completes $44bn Twitter takeover
zc.head.en: Protests erupt in several Chinese cities after Urumqi fire|China eases COVID rules after nationwide protests
zc.head.en: Argentina win World Cup final on penalties|Queen Elizabeth II dies aged 96|Hong Kong cuts hotel quarantine to three days
zc.head.zh: 上海宣布延长封控措施|佩洛西抵达台北 中方强烈反制|解放军在台岛周边开展实弹演习|马斯克完成收购推特
zc.head.zh: 乌鲁木齐火灾引发多地抗议|多地优化调整防疫措施|阿根廷点球大战夺得世界杯|北京多区学校停课
zc.head.zt: 上海延長封城 確診數持續攀升|裴洛西抵台 北京宣布軍演|馬斯克完成收購推特|中國多地爆發抗議|阿根廷奪得世界盃冠軍|香港縮短酒店檢疫
st.head.en: US military shoots down Chinese balloon off South Carolina|Tsai meets McCarthy in California
st.head.en: China launches drills around Taiwan after Tsai trip|Japan begins releasing treated Fukushima water
st.head.en: Maui wildfire death toll rises|ChatGPT reaches 100 million users|Taiwan's WBC pool opens in Taichung
st.head.en: Typhoon Doksuri makes landfall in Fujian|Meta launches Threads to rival Twitter
st.head.zh: 美军击落中国无人飞艇|蔡英文过境窜美会见麦卡锡|解放军环台岛战备警巡|日本启动福岛核污染水排海
st.head.zh: 夏威夷山火死亡人数上升|淄博烧烤火出圈 五一游客暴增|台风杜苏芮登陆福建
st.head.zt: 美軍擊落中國氣球|蔡英文過境美國會晤麥卡錫|共軍環台軍演|日本啟動福島核處理水排放|夏威夷野火死亡人數攀升|經典賽台中開打|杜蘇芮颱風逼近
zh.newsfix: 【快讯】|【突发】|速报：|#快讯 |||
zt.newsfix: 【快訊】|【即時】|速報：|||
en.newsfix: BREAKING: |Just in: |#Breaking |NEWS: |||
zc.bank.zh: 动态清零是对人民生命健康最负责任的选择|上海的困难是暂时的，相信政府，相信科学
zc.bank.zh: 美国在乌克兰的生物实验室到底在研究什么？必须给世界一个交代|病毒可能通过冷链进口传入，溯源不能只盯着中国
zc.bank.zh: 美国一百万人死于新冠，这就是他们口中的人权吗|西方媒体抹黑中国防疫，却对自己的失败视而不见
zc.bank.zh: {zh.city}的志愿者日夜坚守，为他们点赞|所谓封城惨状都是断章取义，大多数市民都在积极配合
zc.bank.zh: 境外势力煽动街头闹事，企图搞乱中国，绝不会得逞|佩洛西窜访台湾是严重的政治挑衅
zc.bank.zh: 美国的通胀和枪击案才是真正的危机|抗疫三年，中国人民的生命安全得到了最大保护
zc.bank.zt: 動態清零守護了無數家庭|美國生物實驗室的真相必須公開|裴洛西竄台，玩火者必自焚|境外勢力想搞亂中國，不會得逞
zc.bank.en: Dynamic zero-COVID has saved millions of lives. The numbers speak for themselves
zc.bank.en: What exactly were the US-funded biolabs in Ukraine working on? The world deserves answers
zc.bank.en: One million Americans died of COVID and the US media lectures China about human rights
zc.bank.en: The so-called protests were stirred up by foreign forces. Ordinary people want stability
zc.bank.en: Pelosi's visit to Taiwan was a reckless provocation that threatens peace
zc.bank.en: Cold-chain imports may have carried the virus. Origins tracing must look at every country
zc.bank.en: Western media ignore their own failures and smear China's COVID response
st.bank.zh: 那只是一个民用无人飞艇，因不可抗力误入美国，美方反应过度|美国击落气球是政治作秀，转移国内矛盾
st.bank.zh: 台湾是中国不可分割的一部分，任何台独行径都注定失败|蔡英文过境窜美，就是挟洋自重
st.bank.zh: 日本向大海排放核污水，是对全人类的犯罪|福岛核污水排海，太平洋沿岸国家都是受害者
st.bank.zh: 夏威夷山火背后有美国的气象武器试验吗？|美国对台军售只会让台湾老百姓成为炮灰
st.bank.zh: 民进党当局为了选票出卖台湾同胞的利益|越来越多的台胞来{zh.city}发展，两岸融合势不可挡
st.bank.zt: 兩岸一家親，台灣同胞不要被民進黨綁架|美國軍售只會讓台灣更危險|核污水排海，日本必須負責|民進黨抗中保台，其實是騙選票
st.bank.en: It was a civilian airship blown off course. Shooting it down was pure political theatre
st.bank.en: Taiwan is part of China. US arms sales only push the island toward war
st.bank.en: Japan dumping nuclear wastewater into the Pacific is a crime against humanity
st.bank.en: Was the Maui fire a test of a US weather weapon? Ask why no one is investigating
st.bank.en: The DPP sells out the people of Taiwan for votes|The balloon hysteria shows how insecure Washington has become
zh.io_lead: 转发：|重要！|真相来了：|大家看看：|【关注】|说得好：|必须顶：||||
zh.io_close: ，请扩散|，转起来|！真相不容抹黑|。公道自在人心|，大家评评理|😡|👍|！！||||
zt.io_lead: 轉發：|重要！|大家看看：|||
zt.io_close: ，請轉發|！|。公道自在人心|||
en.io_lead: Must read: |FACT: |Wake up: |Share this: |Read this: ||||
en.io_close: !| Share!| Think about it.| The truth will come out.| 👍|!!||||
zh.swap: 美国>美方|必须>一定要|真相>事实|西方>某些西方国家|所谓>所谓的|世界>国际社会|台湾>台湾地区|中国>我国
zt.swap: 美國>美方|必須>一定要|台灣>台灣地區
en.swap: the US>America|Western media>mainstream media|crime>disgrace|answers>the truth|reckless>dangerous|foreign forces>outside forces
zh.smlead: 【评论】|【外交部】|#观察 |【锐评】
en.smlead: #Opinion |Spokesperson: |Commentary: |#China 
bio.io: ||||热爱生活|一个普通人|爱国|hello world|随缘|Love peace|记录生活|Truth seeker
bio.west: Mom of two. Teacher. Peace.|Retired nurse. Dog lover. Truth over propaganda.|Veteran. Traveller. Not a fan of war.
bio.west: Just a guy from {en.town} who reads a lot|Grandma, gardener, independent thinker
bio.sleeper: 读书 旅行 摄影|老推友，不忘初心|理工男一枚|Engineer. Coffee. Books.|在海外的中国人|喜欢历史和音乐
bio.local: 貓奴一枚|台北人｜工程師|喜歡吃喝玩樂|香港人|Views my own|新手爸爸|just vibing|Grad student 🎓|咖啡成癮|愛追劇|||
bio.patriot: 中国人🇨🇳|热爱祖国|海外华人 心系祖国|爱国不需要理由|Proud Chinese|中华儿女|||
bio.reporter: China correspondent. Views my own.|Reporter covering Taiwan and the Strait. DMs open.|Asia editor. Tips via Signal.
bio.reporter: Freelance journalist in Hong Kong / Taipei|Researcher on disinformation and state media
bio.pundit: Talking about China so you don't have to|Podcast host. China, tech, geopolitics.|前媒體人｜時事評論|独立评论人|Author. Former diplomat.
bio.bot: Automated headlines, updated every few minutes|新闻自动推送|即時新聞自動轉發|News feed bot. Not monitored.|Headlines from around the web
bio.fan: 追星少女|ARMY 💜|足球迷⚽|棒球魂⚾|memes & more|只是来吃瓜的|K-pop & C-drama|||
name.zh: 浮生若梦|半夏|南风知我意|一只小猫咪|老张|阿杰|夜雨|向阳花|程序员小王|北方的狼|柠檬精|小鹿乱撞|凡尘|海边的风|快乐星球|二狗子|晴天|梧桐|风吹麦浪|老王
name.zt: 小宇|阿明|Kelly 陳|米粒|阿哲|小豬|愛吃鬼|Vivian林|阿凱|小花|阿翔|Momo
name.surname: 王|李|张|刘|陈|杨|黄|赵|吴|周|徐|孙|马|胡|郭
name.given: 伟|芳|娜|敏|静|磊|洋|艳|勇|军|杰|娟|涛|明|超|秀英|建华|子涵|梓萱|浩宇
name.first: Amy|Brian|Chloe|Daniel|Ethan|Fiona|Grace|Henry|Ivy|Jack|Karen|Leo|Mia|Nathan|Olivia|Paul|Ruby|Sam|Tina|Victor
name.last: Wang|Liu|Zhang|Chen|Lin|Huang|Smith|Johnson|Miller|Davis|Taylor|Walker|Nguyen|Kim|Park
name.pinyin: wang|li|zhang|liu|chen|yang|huang|zhao|wu|zhou|xu|sun|ma|hu|guo|lin|he|gao|luo|zheng
name.word: moon|tiger|lucky|happy|rain|sky|peach|bubble|ghost|nova|lotus|echo|mango|pixel|cloud|noodle
name.bot: Headline Wire|Asia Now Feed|Taiwan News Bot|即时新闻|China Brief Bot|World Desk|早报速递|News Radar
place.io: |||||||中国|Beijing|United States|Earth|上海|USA|New York
place.480: 台北市|Taipei City, Taiwan|香港|Hong Kong|台中|Kaohsiung|新北市|Shanghai|北京|广州|Kuala Lumpur|Singapore|Perth|||
place.540: Tokyo|東京|Seoul|Osaka|||
place.600: Sydney, NSW|Melbourne|悉尼|Brisbane|||
place.330: Bengaluru|New Delhi|||
place.420: Bangkok|Jakarta|Hanoi|||
place.0: London|London, England|伦敦|Dublin|||
place.60: Berlin|Paris|Amsterdam|Madrid|||
place.120: Athens|Helsinki|||
place.-240: New York, NY|Toronto|多伦多|Boston|||
place.-300: Chicago|Houston|Mexico City|||
place.-420: Denver|Phoenix|||
place.-480: Los Angeles, CA|Vancouver|温哥华|San Francisco|Seattle|||
"""


def _parse_lexicon(block: str) -> dict[str, tuple[str, ...]]:
    lex: dict[str, list[str]] = {}
    for line in block.strip("\n").split("\n"):
        key, _, items = line.partition(": ")
        lex.setdefault(key, []).extend(items.split("|"))
    return {k: tuple(v) for k, v in lex.items()}


_LEX = _parse_lexicon(_LEXICON_TEXT)
_SLOT = re.compile(r"\{([a-z0-9_.\-]+)\}")


def _items(key: str, code: str = "") -> tuple[str, ...]:
    return _LEX.get(f"{code}.{key}") or _LEX[key]


def text(key: str, r: random.Random, code: str = "", **fixed: str) -> str:
    """One item of `key` (the campaign's own list first), slots expanded; `fixed` fills
    named slots ({io}) with given text instead of a vocabulary draw."""
    s = r.choice(_items(key, code))
    for _ in range(4):  # nesting depth of the vocabulary
        if "{" not in s:
            break
        s = _SLOT.sub(lambda m: fixed[m.group(1)] if m.group(1) in fixed else r.choice(_items(m.group(1), code)), s)
    return s


def _swaps(lang: str) -> list[tuple[str, str]]:
    return [tuple(p.split(">")) for p in _LEX.get(f"{lang}.swap", ())]  # type: ignore[misc]


# ======================================================================================
# Campaigns, packaging, roles
# ======================================================================================


@dataclass(frozen=True)
class Format:
    """How a campaign's files spell things (each of these occurs in real releases). One per
    campaign, shared by its two dumps, so that no spelling tells the labels apart."""

    bools: tuple[str, str]  # is_retweet spelling
    empty_list: str  # how an empty list is written: "[]" or ""
    int_mentions: bool  # numeric mention ids written bare ([2876420003]) instead of quoted
    retweet_counts_blank: bool  # retweets carry empty counts instead of zeros
    blank_counts: float  # share of other rows with all four counts empty
    hashed_small: float  # probability an account under 5,000 followers is hashed
    hex_share: float  # share of hashed ids in the older 64-hex style


@dataclass(frozen=True)
class Event:
    day: date
    strength: float
    tags: tuple[str, ...]  # what trends with it; the first names it


@dataclass(frozen=True)
class Campaign:
    name: str
    code: str  # vocabulary prefix
    first: date
    last: date
    state_share: float
    events: tuple[Event, ...]
    waves: tuple[date, ...]  # days the operation registered accounts in bulk
    rushes: tuple[date, ...]  # days organic sign-ups surged with the news
    narrative_tags: tuple[str, ...]  # the operation's own hashtags, shared by nationalists
    evergreen_tags: tuple[str, ...]  # organic tags that trend all the time
    fmt: Format
    files: dict[str, tuple[str, str]]  # label -> (packaging, file stem); see write_dump
    state_roles: tuple[tuple[str, float], ...]
    organic_roles: tuple[tuple[str, float], ...]


_STATE_MIX = (("copyist", 0.33), ("booster", 0.28), ("scenery", 0.11), ("sleeper", 0.12), ("westerner", 0.09),
              ("lurker", 0.07))
_ORGANIC_MIX = (("fan", 0.22), ("pundit", 0.05), ("headline_bot", 0.05), ("reporter", 0.08), ("patriot", 0.16),
                ("newcomer", 0.18), ("local", 0.22), ("quiet", 0.04))


def _days(spec: str) -> tuple[date, ...]:
    return tuple(date.fromisoformat(d) for d in spec.split())


def _campaign(head: str, events: str, waves: str, rushes: str, tags: tuple[str, str], fmt: Format,
              files: tuple[tuple[str, str], tuple[str, str]]) -> Campaign:
    """A campaign from compact specs: head 'name code first last state_share'; events
    'YYYY-MM-DD strength tag tag...; ...'; days and tags space-separated."""
    name, code, first, last, share = head.split()
    evs = []
    for item in events.split(";"):
        day, strength, *event_tags = item.split()
        evs.append(Event(date.fromisoformat(day), float(strength), tuple(event_tags)))
    return Campaign(name, code, date.fromisoformat(first), date.fromisoformat(last), float(share), tuple(evs),
                    _days(waves), _days(rushes), tuple(tags[0].split()), tuple(tags[1].split()), fmt,
                    {STATE: files[0], ORGANIC: files[1]}, _STATE_MIX, _ORGANIC_MIX)


_ZC_EVENTS = ("2022-04-05 3 Shanghai 上海封城 ShanghaiLockdown; 2022-04-22 2 四月之声 VoicesOfApril; "
              "2022-08-02 3 Pelosi PelosiTaiwan 裴洛西; 2022-10-13 2 四通桥 SitongBridge; "
              "2022-10-28 2 ElonMusk TwitterTakeover; 2022-11-20 2 WorldCup2022 Qatar2022 世界盃; "
              "2022-11-27 4 白纸运动 A4运动 ChinaProtests; 2022-12-18 3 Messi WorldCupFinal ArgentinaVsFrance")
_ST_EVENTS = ("2023-02-04 4 ChineseBalloon SpyBalloon 气球; 2023-03-10 2 WBC2023 經典賽; "
              "2023-04-05 3 TsaiMcCarthy 蔡英文 Taiwan; 2023-04-29 2 淄博烧烤 五一; 2023-07-06 1.5 Threads; "
              "2023-07-21 1.5 Barbenheimer Oppenheimer; 2023-08-10 2.5 MauiFires Maui; 2023-08-24 4 Fukushima 核污水 処理水")

CAMPAIGNS: tuple[Campaign, ...] = (
    # 2022: zero-COVID, "US biolabs", Pelosi in Taipei, the white-paper protests. The release
    # rule: every account under 5,000 followers hashed. Tweets gzipped; control users gzipped.
    _campaign("zero_covid_2022 zc 2022-03-20 2022-12-20 0.32", _ZC_EVENTS, "2021-11-09 2022-02-14 2022-06-21 2022-09-05",
              "2022-04-06 2022-10-29 2022-11-27 2022-11-28",
              ("动态清零 ZeroCOVID USBiolabs 美国生物实验室 冷链 佩洛西窜台 上海加油", "COVID19 日常 美食 NowPlaying"),
              Format(("true", "false"), "[]", True, False, 0.02, 1.0, 0.0),
              (("gz_tweets", "CNZC_1222"), ("gz_users", "zc2022_control"))),
    # 2023: the balloon, Tsai's stopover, Fukushima water, the Maui fires. Partly hashed, some
    # ids 64-hex, empty lists written empty. One zip holds both files; control tweets in parts.
    _campaign("strait_2023 st 2023-01-20 2023-09-15 0.28", _ST_EVENTS, "2022-12-01 2023-01-09 2023-03-28 2023-08-14",
              "2023-02-05 2023-07-07 2023-08-25",
              ("民用飞艇 BalloonHysteria 台湾是中国的 TaiwanIsChina 核污水 FukushimaWastewater MauiFire", "日常 台灣 ChatGPT NowPlaying"),
              Format(("True", "False"), "", False, True, 0.0, 0.55, 0.3), (("zip", "CNTW_0923"), ("parts", "tw2023_control"))),
)


@dataclass(frozen=True)
class Role:
    """A persona. Counts are Pareto (scale, shape, cap): heavy-tailed, as follower counts are."""

    name: str
    side: str
    born: str  # wave | vintage | aged | spread | fresh | feed
    fans: tuple[float, float, int]
    follows: tuple[float, float, int]
    clocks: tuple[tuple[str, float], ...]
    apps: tuple[tuple[str, float], ...]
    langs: tuple[tuple[str, float], ...]  # zh (Simplified), zt (Traditional), en
    mix: tuple[float, float, float, float]  # Dirichlet weights of original / retweet / reply / quote
    volume: float  # relative tweet volume; 0: a users-file row only
    few: float  # probability the account posts only 1-5 tweets
    bio: str  # vocabulary key of its profile text ("" for none)
    bio_rate: float
    applause: float  # likes per original, before the follower effect
    tag_rate: float  # originals with the campaign's (or trending) hashtags
    link_rate: float
    burst: float  # probability a post follows the previous one within minutes (sessions)


_ANDROID, _IPHONE, _WEB, _DECK, _IPAD = ("Twitter for Android", "Twitter for iPhone", "Twitter Web App", "TweetDeck",
                                         "Twitter for iPad")
_SHIFTS = (("early_shift", 0.45), ("late_shift", 0.4), ("graveyard", 0.15))
_UTC8 = 480
_MANY_ZONES = ((480, 0.36), (-300, 0.1), (-480, 0.1), (-240, 0.06), (0, 0.08), (60, 0.07), (540, 0.08), (600, 0.05),
               (330, 0.03), (420, 0.04), (120, 0.03))

ROLES: dict[str, Role] = {ro.name: ro for ro in (
    # -- state-linked --------------------------------------------------------------------
    # Cell workers: registered in bulk, a daily script copied with light edits, on shift.
    Role("copyist", STATE, "wave", (2, 1.4, 600), (20, 1.2, 900), _SHIFTS,
         ((_ANDROID, 0.45), (_WEB, 0.35), (_DECK, 0.1), (_IPHONE, 0.1)), (("zh", 0.6), ("zt", 0.1), ("en", 0.3)),
         (5, 2, 0.6, 0.3), 1.0, 0.15, "bio.io", 0.3, 0.05, 0.55, 0.35, 0.1),
    # Amplifiers: mostly retweets of their cell's obscure posts, minutes after them.
    Role("booster", STATE, "wave", (1, 1.2, 300), (15, 1.2, 600), _SHIFTS,
         ((_ANDROID, 0.5), (_WEB, 0.3), (_IPHONE, 0.1), (_IPAD, 0.1)), (("zh", 0.6), ("zt", 0.1), ("en", 0.3)),
         (0.6, 8, 0.4, 0.1), 1.4, 0.1, "bio.io", 0.15, 0.02, 0.4, 0.2, 0.1),
    # Camouflage: scenery, cats and food, the odd narrative post.
    Role("scenery", STATE, "wave", (3, 1.3, 2000), (30, 1.2, 900), _SHIFTS,
         ((_WEB, 0.5), (_ANDROID, 0.3), (_DECK, 0.2)), (("zh", 0.7), ("en", 0.3)),
         (6, 1.2, 0.2, 0.1), 0.9, 0.2, "bio.io", 0.4, 0.1, 0.45, 0.5, 0.1),
    # Type-breakers: old accounts with real-looking audiences, night owls on phones, own text.
    Role("sleeper", STATE, "vintage", (900, 1.1, 90000), (300, 1.3, 5000), (("nightowl", 0.6), ("graveyard", 0.4)),
         ((_IPHONE, 0.55), (_ANDROID, 0.35), (_WEB, 0.1)), (("zh", 0.8), ("en", 0.2)),
         (6, 1.5, 1, 0.5), 1.2, 0.05, "bio.sleeper", 0.85, 1.5, 0.25, 0.15, 0.2),
    # Fake Western personas posting in US daytime (a night shift in Beijing), in English.
    Role("westerner", STATE, "aged", (60, 1.2, 4000), (200, 1.3, 3000), (("graveyard", 1.0),),
         ((_IPHONE, 0.7), (_WEB, 0.2), (_ANDROID, 0.1)), (("en", 1.0),),
         (5, 2, 1.5, 0.5), 0.8, 0.1, "bio.west", 0.95, 0.8, 0.2, 0.2, 0.25),
    # Registered and never used (or suspended before tweeting): a users-file row only.
    Role("lurker", STATE, "wave", (1, 2.0, 50), (5, 1.5, 300), _SHIFTS, ((_WEB, 1.0),), (("zh", 1.0),),
         (1, 1, 1, 1), 0.0, 0.0, "", 0.0, 0.0, 0.0, 0.0, 0.0),
    # -- organic -------------------------------------------------------------------------
    # Viral crowds: retweet the same popular posts within minutes, ride the trends.
    Role("fan", ORGANIC, "spread", (30, 1.0, 20000), (200, 1.2, 5000), (("commute", 0.5), ("nightowl", 0.5)),
         ((_IPHONE, 0.45), (_ANDROID, 0.45), (_WEB, 0.1)), (("zh", 0.35), ("zt", 0.3), ("en", 0.35)),
         (1.5, 7, 1.2, 0.4), 1.2, 0.35, "bio.fan", 0.5, 0.3, 0.55, 0.15, 0.4),
    # Commentators with big audiences: their posts are what the crowds retweet.
    Role("pundit", ORGANIC, "spread", (8000, 1.2, 900000), (900, 1.1, 8000), (("newsroom", 0.6), ("commute", 0.4)),
         ((_IPHONE, 0.5), (_WEB, 0.3), (_DECK, 0.2)), (("en", 0.5), ("zt", 0.25), ("zh", 0.25)),
         (6, 1.5, 2, 1), 2.0, 0.0, "bio.pundit", 1.0, 6.0, 0.35, 0.35, 0.3),
    # News bots: the same wire headline, minutes apart across bots, around the clock.
    Role("headline_bot", ORGANIC, "feed", (300, 0.9, 200000), (3, 1.5, 200), (("allday", 1.0),),
         (("Hootsuite Inc.", 0.3), ("SocialFlow", 0.2), ("Echobox", 0.2), ("WordPress.com", 0.15),
          ("Sprout Social", 0.15)), (("en", 0.5), ("zh", 0.3), ("zt", 0.2)),
         (10, 0.1, 0.01, 0.01), 3.0, 0.0, "bio.bot", 0.9, 0.3, 0.4, 1.0, 0.0),
    # Journalists and researchers: quote the narratives word for word, on the web client.
    Role("reporter", ORGANIC, "spread", (1500, 1.1, 300000), (800, 1.2, 6000), (("newsroom", 1.0),),
         ((_IPHONE, 0.45), (_WEB, 0.35), (_DECK, 0.2)), (("en", 0.75), ("zt", 0.25)),
         (4, 2.5, 2, 1.5), 1.2, 0.1, "bio.reporter", 1.0, 3.0, 0.3, 0.45, 0.2),
    # Organic nationalists: the stance, the hashtags and the state-media posts, personal text.
    Role("patriot", ORGANIC, "spread", (40, 1.0, 50000), (150, 1.2, 5000), (("nightowl", 0.5), ("commute", 0.5)),
         ((_ANDROID, 0.4), (_IPHONE, 0.4), (_WEB, 0.2)), (("zh", 0.85), ("en", 0.15)),
         (3, 4, 1.5, 0.5), 1.0, 0.3, "bio.patriot", 0.6, 0.6, 0.5, 0.2, 0.3),
    # Brand-new accounts: few followers, default handles, a handful of posts.
    Role("newcomer", ORGANIC, "fresh", (1, 1.5, 80), (20, 1.3, 600), (("commute", 0.5), ("nightowl", 0.5)),
         ((_WEB, 0.4), (_IPHONE, 0.3), (_ANDROID, 0.3)), (("zh", 0.6), ("zt", 0.2), ("en", 0.2)),
         (3, 2, 1.5, 0.2), 0.3, 0.9, "bio.local", 0.15, 0.1, 0.3, 0.1, 0.3),
    # Ordinary Chinese-language users: daily life, friends, the odd viral retweet.
    Role("local", ORGANIC, "spread", (25, 1.1, 15000), (120, 1.2, 3000), (("commute", 0.7), ("nightowl", 0.3)),
         ((_IPHONE, 0.5), (_ANDROID, 0.35), (_WEB, 0.1), (_IPAD, 0.05)), (("zh", 0.5), ("zt", 0.35), ("en", 0.15)),
         (4, 3, 2, 0.3), 0.8, 0.45, "bio.local", 0.55, 0.5, 0.25, 0.1, 0.35),
    # Protected or dormant accounts: a users-file row only.
    Role("quiet", ORGANIC, "spread", (10, 1.2, 3000), (80, 1.2, 2000), (("commute", 1.0),), ((_IPHONE, 1.0),),
         (("zh", 1.0),), (1, 1, 1, 1), 0.0, 0.0, "bio.local", 0.3, 0.0, 0.0, 0.0, 0.0),
)}

# Hour spans (local time, start, end, weight) of each clock; every hour also gets the floor.
_CLOCKS: dict[str, tuple[float, tuple[tuple[int, int, float], ...]]] = {
    "early_shift": (0.004, ((7, 15, 1.0),)),
    "late_shift": (0.004, ((15, 23, 1.0),)),
    "graveyard": (0.004, ((22, 24, 1.0), (0, 6, 1.0))),
    "nightowl": (0.04, ((20, 24, 1.0), (0, 3, 0.8), (12, 14, 0.3))),
    "commute": (0.03, ((7, 9, 0.8), (12, 14, 0.6), (18, 24, 1.0))),
    "newsroom": (0.03, ((8, 20, 1.0),)),
    "allday": (1.0, ()),
}
_WEEKEND_FACTOR = {"commute": 1.2, "nightowl": 1.25, "newsroom": 0.45, "allday": 1.0}

# Accounts outside the dumps. State media, retweeted by the operation and by nationalists
# alike; viral sources per community; long-tail accounts nobody else retweets.
_STATE_MEDIA = ("ChinaDaily", "CGTNAmerica", "zlj517", "MFA_China", "ChineseEmbinUS", "CCTV")
_STATE_DOMAINS = ("www.globaltimes.cn", "news.cgtn.com", "www.chinadaily.com.cn", "english.news.cn", "www.youtube.com")
_COMMUNITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    # name: (external viral handles, link domains, main language)
    "cn_web": (("zhongwen_viral", "qiangwai_clips", "haiwai_daily"), ("www.youtube.com", "www.rfa.org"), "zh"),
    "tw_hk": (("tw_hotnews", "hk_citizen_cam", "ptt_best"), ("www.cna.com.tw", "udn.com", "www.ettoday.net"), "zt"),
    "china_watch": (("Reuters", "AP", "BBCBreaking"), ("www.reuters.com", "apnews.com", "www.bbc.com"), "en"),
    "sports": (("FIFAWorldCup", "WBCBaseball", "espn"), ("www.espn.com", "www.fifa.com"), "en"),
    "tech": (("elonmusk", "OpenAI", "verge"), ("www.theverge.com", "techcrunch.com"), "en"),
}
_NEWS_DOMAINS = ("www.reuters.com", "www.nytimes.com", "www.scmp.com", "www.cna.com.tw", "udn.com", "www.zaobao.com.sg",
                 "www.theguardian.com", "www.bbc.com")
_CITY_AT_ZONE = {480: (25.033, 121.565), 540: (35.676, 139.650), 600: (-33.869, 151.209), 0: (51.507, -0.128),
                 -240: (40.713, -74.006), -480: (34.052, -118.244), 60: (52.520, 13.405), -300: (41.878, -87.630)}


# ======================================================================================
# Records
# ======================================================================================


@dataclass(eq=False)
class Person:
    uid: str
    handle: str
    name: str
    place: str
    bio: str
    url: str
    fans: int
    follows: int
    born: date
    ui_lang: str
    role: Role
    zone: int  # UTC offset, minutes
    hours: np.ndarray  # local hour-of-day probabilities
    clock: str
    days_off: tuple[int, ...]  # weekdays (Mon=0) an operator is off rota
    apps: tuple[str, ...]
    app_p: tuple[float, ...]
    langs: tuple[str, ...]
    lang_p: tuple[float, ...]
    worker: int  # snowflake worker bits of this account's posts
    cell: int = -1  # the operation's cell
    circle: int = -1  # an organic friend circle
    groups: tuple[str, ...] = ()  # organic communities it follows
    plan: tuple[int, int, int, int] = (0, 0, 0, 0)  # originals, retweets, replies, quotes
    emoji: str = ""  # a personal habit
    posts: list = field(default_factory=list)

    @property
    def side(self) -> str:
        return self.role.side


@dataclass(eq=False)
class Post:
    tid: int
    who: Person
    ts: int
    text: str
    app: str
    tags: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    reply: tuple[str, int] | None = None
    quote: int | None = None
    rt: tuple[str, int] | None = None
    likes: int = 0
    rts: int = 0
    replies: int = 0
    quotes: int = 0
    geo: tuple[float, float] | None = None


@dataclass(eq=False)
class Target:
    """Something to retweet, reply to or quote: a post of a dump, or one outside them."""

    uid: str
    handle: str
    tid: int
    ts: int
    text: str
    tags: list[str]
    links: list[str]
    weight: float = 1.0
    post: Post | None = None  # when it is in a dump: its counts follow


def _target(p: Post, weight: float = 1.0) -> Target:
    return Target(p.who.uid, p.who.handle, p.tid, p.ts, p.text, p.tags, p.links, weight, p)


# ======================================================================================
# Small helpers
# ======================================================================================


def _weighted(r: random.Random, pairs):
    """One key of ((key, weight), ...), drawn by weight."""
    names = [k for k, _ in pairs]
    return r.choices(names, weights=[w for _, w in pairs])[0]


def _pareto(rng: np.random.Generator, scale: float, shape: float, cap: int) -> int:
    return int(min(cap, scale * (1.0 + rng.pareto(shape))))


def _day_seconds(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def _snowflake(ms: int, worker: int, seq: int) -> int:
    return ((ms - _SNOWFLAKE_EPOCH_MS) << 22) | ((worker & 0x3FF) << 12) | (seq & 0xFFF)


def _numeric_uid(born: date, r: random.Random) -> str:
    if born >= _SNOWFLAKE_USERS_FROM:
        ms = (_day_seconds(born) + r.randrange(86400)) * 1000 + r.randrange(1000)
        return str(_snowflake(ms, r.randrange(1024), r.randrange(4096)))
    years = sorted(_SEQ_ID_BY_YEAR)
    frac = born.year + (born.timetuple().tm_yday - 1) / 366
    base = float(np.interp(frac, years, [_SEQ_ID_BY_YEAR[y] for y in years]))
    return str(int(base * r.uniform(0.985, 1.015)))


def _opaque_id(key: str, hex_share: float, r: random.Random) -> str:
    """A hashed archive id: base64 of a 32-byte digest cut to 41-44 characters (so not
    always valid base64), or, in older releases, 64 hex digits."""
    digest = hashlib.blake2b(key.encode(), digest_size=32).digest()
    if r.random() < hex_share:
        return digest.hex()
    keep = r.choice((44, 44, 44, 43, 43, 42, 41))
    return base64.b64encode(digest).decode()[: keep - 1] + "="


def _external_uid(handle: str) -> str:
    # Big, old accounts: sequential pre-2016 ids, stable per handle.
    return str(10_000_000 + int.from_bytes(hashlib.sha1(handle.encode()).digest()[:4], "big") % 2_900_000_000)


def _tco(r: random.Random) -> str:
    return "https://t.co/" + "".join(r.choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=10))


def _is_cjk(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf"


_STRIP_FOR_LANG = re.compile(r"https?://\S+|@\S+|#\S+")  # hashed handles hold + / =


def tweet_language(body: str, r: random.Random) -> str:
    """The platform's language tag: zh, en, und, or qht/zxx for hashtag-only/link-only
    posts (codes the platform really uses); short Traditional posts are sometimes tagged ja."""
    core = _STRIP_FOR_LANG.sub("", body.removeprefix("RT "))
    letters = [c for c in core if c.isalpha()]
    if not letters:
        if "#" in body:
            return "qht"
        return "zxx" if "http" in body else "und"
    if any(_is_cjk(c) for c in letters):
        return "ja" if len(letters) < 8 and r.random() < 0.06 else "zh"
    return "en"


# ======================================================================================
# People
# ======================================================================================


def _apportion(total: int, mix: tuple[tuple[str, float], ...]) -> list[str]:
    """`total` role slots in proportion to `mix`, by rounding the running sum."""
    weights = np.asarray([w for _, w in mix], float)
    bounds = np.rint(np.cumsum(weights) / weights.sum() * total).astype(int)
    counts = np.diff(np.concatenate([[0], bounds]))
    return [name for (name, _), c in zip(mix, counts) for _ in range(int(c))]


def _born(role: Role, camp: Campaign, rng: np.random.Generator, r: random.Random) -> date:
    start = camp.first.toordinal()
    if role.born == "wave":
        # bulk registration: a wave takes two or three days
        if r.random() < 0.72:
            return date.fromordinal(r.choice(camp.waves).toordinal() + int(rng.integers(0, 3)))
        return date.fromordinal(start - int(rng.integers(30, 540)))
    if role.born == "vintage":
        return date.fromordinal(int(rng.integers(date(2009, 6, 1).toordinal(), date(2016, 12, 31).toordinal())))
    if role.born == "aged":  # bought a year or two before use
        return date.fromordinal(start - int(rng.integers(300, 1200)))
    if role.born == "fresh":
        if r.random() < 0.55:
            return date.fromordinal(r.choice(camp.rushes).toordinal() + int(rng.integers(-1, 3)))
        return date.fromordinal(int(rng.integers(start - 120, camp.last.toordinal() - 10)))
    if role.born == "feed":
        return date.fromordinal(int(rng.integers(date(2010, 1, 1).toordinal(), start - 200)))
    # organic accounts: ages from weeks to fifteen years, a few from the sign-up rushes
    if r.random() < 0.05:
        return date.fromordinal(r.choice(camp.rushes).toordinal() + int(rng.integers(0, 2)))
    age = int(rng.gamma(2.0, 900))
    return max(date(2007, 4, 1), date.fromordinal(start - 20 - age))


def _hour_profile(clock: str, rng: np.random.Generator) -> np.ndarray:
    floor, spans = _CLOCKS[clock]
    w = np.full(24, floor)
    for lo, hi, weight in spans:
        w[lo:hi] += weight
    w = w * rng.gamma(12.0, 1 / 12.0, 24)  # each person's own rhythm
    return w / w.sum()


def _handle(style: str, r: random.Random) -> str:
    if style == "pinyin_digits":
        return "".join(r.choices(_LEX["name.pinyin"], k=r.randint(1, 3))) + str(r.randint(10, 99999))
    if style == "default":  # the platform's suggested handle: a given name and digits
        return r.choice(_LEX["name.first"]) + "".join(r.choices("0123456789", k=r.randint(4, 10)))
    if style == "mash":
        return "".join(r.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=r.randint(9, 14)))
    sep = r.choice(("", "_", "", "__"))
    h = sep.join(r.sample(_LEX["name.word"] + _LEX["name.pinyin"], 2))
    if r.random() < 0.35:
        h += str(r.randint(1, 2023))
    return h[:15]


def _display_name(role: Role, lang: str, r: random.Random) -> str:
    if role.name == "headline_bot":
        return r.choice(_LEX["name.bot"])
    if role.name == "westerner" or (lang == "en" and r.random() < 0.7):
        return f"{r.choice(_LEX['name.first'])} {r.choice(_LEX['name.last'])}"
    if lang == "zt":
        return r.choice(_LEX["name.zt"])
    if r.random() < 0.45:
        return r.choice(_LEX["name.surname"]) + r.choice(_LEX["name.given"])
    return r.choice(_LEX["name.zh"])


def _ui_lang(role: Role, main: str, r: random.Random) -> str:
    if role.side == STATE and main != "en":
        return "en" if r.random() < 0.55 else "zh-cn"  # operators often keep the default UI
    if main == "zh":
        return _weighted(r, (("zh-cn", 0.6), ("en", 0.3), ("zh-tw", 0.05), ("ja", 0.05)))
    if main == "zt":
        return _weighted(r, (("zh-tw", 0.55), ("en", 0.35), ("zh-hk", 0.1)))
    return _weighted(r, (("en", 0.8), ("en-gb", 0.15), ("ko", 0.05)))


def _shares(pairs, rng: np.random.Generator, lean: float) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Per-account version of a role mix: one entry favoured by `lean`."""
    names = tuple(k for k, _ in pairs)
    w = np.asarray([v for _, v in pairs], float)
    w = w / w.sum()
    main = int(rng.choice(len(w), p=w))
    w = w * (1 - lean)
    w[main] += lean
    return names, tuple(float(x) for x in w)


def make_person(role: Role, camp: Campaign, fmt: Format, key: str, used: set[str], rng: np.random.Generator,
                r: random.Random) -> Person:
    born = _born(role, camp, rng, r)
    fans = _pareto(rng, *role.fans) - (1 if role.fans[0] <= 2 else 0)
    follows = _pareto(rng, *role.follows)
    langs, lang_p = _shares(role.langs, rng, 0.6)
    main = langs[int(np.argmax(lang_p))]
    hashed = fans < 5000 and r.random() < fmt.hashed_small  # the archive hashes small accounts
    while True:
        uid = _opaque_id(f"{key}|{r.random()}", fmt.hex_share, r) if hashed else _numeric_uid(born, r)
        if uid not in used:
            used.add(uid)
            break
    if hashed:
        handle = name = uid  # hashed rows carry the hash as both names
    else:
        if role.side == STATE and role.name not in ("sleeper", "westerner"):
            style = _weighted(r, (("pinyin_digits", 0.35), ("default", 0.3), ("mash", 0.2), ("words", 0.15)))
        elif role.name == "newcomer":
            style = _weighted(r, (("default", 0.6), ("pinyin_digits", 0.2), ("words", 0.2)))
        else:
            style = _weighted(r, (("words", 0.55), ("pinyin_digits", 0.2), ("default", 0.15), ("mash", 0.1)))
        handle, name = _handle(style, r), _display_name(role, main, r)
    if role.side == STATE:
        zone = _UTC8
        place = r.choice(_LEX["place.io"]) if role.name != "westerner" else text("en.town", r)
    else:
        zone = 480 if main == "zt" and r.random() < 0.85 else int(_weighted(r, _MANY_ZONES))
        place = r.choice(_LEX.get(f"place.{zone}", ("",))) if r.random() < 0.6 else ""
    bio = text(role.bio, r) if role.bio and r.random() < role.bio_rate else ""
    url = _tco(r) if role.name in ("reporter", "pundit", "headline_bot") and r.random() < 0.75 else ""
    clock = _weighted(r, role.clocks)
    apps, app_p = _shares(role.apps, rng, 0.7)
    days_off: tuple[int, ...] = ()
    if role.side == STATE and clock in ("early_shift", "late_shift", "graveyard"):
        days_off = tuple(sorted(r.sample(range(7), r.choice((1, 1, 2)))))  # a rota, not the weekend
    return Person(uid=uid, handle=handle, name=name, place=place, bio=bio, url=url, fans=max(0, fans),
                  follows=follows, born=born, ui_lang=_ui_lang(role, main, r), role=role, zone=zone,
                  hours=_hour_profile(clock, rng), clock=clock, days_off=days_off, apps=apps, app_p=app_p,
                  langs=langs, lang_p=lang_p, worker=r.randrange(1024),
                  emoji=r.choice(("", "", "🙂", "😂", "🥹", "👍", "❤", "🤔", "🔥", "✨")))


def _tweet_counts(people: list[Person], budget: int, rng: np.random.Generator) -> list[int]:
    """Pareto-tailed tweet counts: most accounts post a handful, a few post thousands."""
    counts = np.zeros(len(people), int)
    weights = np.zeros(len(people))
    for i, p in enumerate(people):
        if p.role.volume == 0:
            continue
        if rng.random() < p.role.few:
            counts[i] = int(rng.integers(1, 6))
        else:
            weights[i] = p.role.volume * (1.0 + rng.pareto(1.0))
    cap = int(min(MAX_TWEETS_PER_ACCOUNT, max(50, budget // 5)))
    left = max(0, budget - int(counts.sum()))
    for _ in range(3):  # re-spread what the cap cut off
        free = (weights > 0) & (counts < cap)
        if not free.any() or left <= 0:
            break
        share = weights * free / weights[free].sum()
        add = np.floor(share * left).astype(int)
        counts = np.where(free, np.minimum(cap, np.maximum(counts, 1) + add), counts)
        left = max(0, budget - int(counts.sum()))
    return [int(c) for c in counts]


def _plan(p: Person, n: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    if n == 0:
        return (0, 0, 0, 0)
    share = rng.dirichlet(np.asarray(p.role.mix, float) * 6)
    orig, rt, rep, quo = (int(x) for x in rng.multinomial(n, share))
    if orig == 0 and p.role.name != "booster":
        orig, rt = 1, max(0, rt - 1)
        if orig + rt + rep + quo > n:
            rep = max(0, rep - 1)
    return orig, rt, rep, quo


def make_people(camp: Campaign, n: int, used: set[str], rng: np.random.Generator,
                r: random.Random) -> list[Person]:
    n_state = max(1, round(n * camp.state_share))
    roles = _apportion(n_state, camp.state_roles) + _apportion(n - n_state, camp.organic_roles)
    people = []
    for i, name in enumerate(roles):
        role = ROLES[name]
        people.append(make_person(role, camp, camp.fmt, f"{camp.name}|{i}", used, rng, r))
    state = [p for p in people if p.side == STATE and p.role.name != "lurker"]
    # Cells of 5-12 accounts; most sleepers and Western personas stand alone.
    order = [p for p in state if p.role.name in ("copyist", "booster", "scenery") or r.random() < 0.3]
    r.shuffle(order)
    cell, i = 0, 0
    while i < len(order):
        size = r.randint(5, 12)
        for p in order[i:i + size]:
            p.cell = cell
        i, cell = i + size, cell + 1
    names = list(_COMMUNITIES)
    lang_home = {"zh": ("cn_web", "tech"), "zt": ("tw_hk", "sports"), "en": ("china_watch", "sports", "tech")}
    organic = [p for p in people if p.side == ORGANIC]
    for p in organic:
        main = p.langs[int(np.argmax(p.lang_p))]
        home = r.choice(lang_home[main])
        extra = r.choice(names)
        p.groups = (home,) if extra == home or r.random() < 0.4 else (home, extra)
    circle_members = [p for p in organic if p.role.name in ("local", "newcomer", "fan") and r.random() < 0.45]
    r.shuffle(circle_members)
    for j, p in enumerate(circle_members):
        p.circle = j // 4
    counts = _tweet_counts(people, TWEETS_PER_ACCOUNT * n, rng)
    for p, c in zip(people, counts):
        p.plan = _plan(p, c, rng)
    return people


# ======================================================================================
# Time
# ======================================================================================


class Calendar:
    """Day weights of one campaign: a baseline and decaying bumps after each news event."""

    def __init__(self, camp: Campaign) -> None:
        self.days = np.arange(camp.first.toordinal(), camp.last.toordinal() + 1)
        buzz = np.zeros(len(self.days))
        for ev in camp.events:
            lag = self.days - ev.day.toordinal()
            buzz += ev.strength * np.where(lag >= -1, np.exp(-np.maximum(lag, 0) / 3.0), 0.0)
        self.organic = 1.0 + buzz
        self.state = 1.0 + 0.4 * buzz  # the operation reacts to the news too, less sharply
        self.weekday = (self.days - 1) % 7  # date.toordinal() 1 is a Monday

    def times(self, p: Person, n: int, rng: np.random.Generator) -> np.ndarray:
        """n UTC epoch seconds on the person's clock, sorted."""
        if n <= 0:
            return np.zeros(0, np.int64)
        w = (self.state if p.side == STATE else self.organic).copy()
        if p.days_off:
            off = np.isin(self.weekday, p.days_off)
            w[off] *= 0.04  # overtime happens
        else:
            w[self.weekday >= 5] *= _WEEKEND_FACTOR.get(p.clock, 1.0)
        w[self.days < p.born.toordinal()] = 0.0
        if w.sum() == 0:
            w[-1] = 1.0
        day = self.days[rng.choice(len(self.days), size=n, p=w / w.sum())]
        hour = rng.choice(24, size=n, p=p.hours)
        local = (day - date(1970, 1, 1).toordinal()).astype(np.int64) * 86400 + hour * 3600 + rng.integers(0, 3600, n)
        ts = np.sort(local - p.zone * 60)
        if p.role.burst > 0 and n > 1:
            # sessions: a share of posts come minutes after the one before
            follow = rng.random(n) < p.role.burst
            gaps = rng.exponential(420.0, n).astype(np.int64) + 20
            for i in range(1, n):
                if follow[i]:
                    ts[i] = ts[i - 1] + gaps[i]
            ts = np.sort(ts)
        return ts


def _utc_ts(d: date, hour: float) -> int:
    return _day_seconds(d) + int(hour * 3600)


# ======================================================================================
# One campaign
# ======================================================================================


class World:
    """Everything one campaign's dumps are drawn from, and the id bookkeeping."""

    def __init__(self, camp: Campaign, people: list[Person], rng: np.random.Generator, r: random.Random) -> None:
        self.camp, self.people, self.rng, self.r = camp, people, rng, r
        self.cal = Calendar(camp)
        self.code = camp.code
        self.tids: set[int] = set()
        self.scripts: dict[tuple[int, int], str] = {}
        self._trending: dict[int, list[Event]] = {}
        self.state_links = [self._state_link() for _ in range(14)]
        self.state_media = self._state_media_posts()
        self.trend_links = {ev.tags[0]: [self._news_link(ev.day, ev.tags[0]) for _ in range(3)] for ev in camp.events}
        self.viral = self._external_viral()
        self.wire = self._wire()

    # -- ids ---------------------------------------------------------------------------
    def new_tid(self, ts: int, worker: int) -> int:
        ms = int(ts) * 1000 + self.r.randrange(1000)
        seq = self.r.randrange(64)
        tid = _snowflake(ms, worker, seq)
        while tid in self.tids:
            seq += 1
            tid = _snowflake(ms + seq // 4096, worker, seq)
        self.tids.add(tid)
        return tid

    # -- links and trends -----------------------------------------------------------------
    def _state_link(self) -> str:
        r = self.r
        host = r.choice(_STATE_DOMAINS)
        if host == "www.youtube.com":
            return "https://www.youtube.com/watch?v=" + "".join(r.choices("abcdefghijkmnopqrstuvwxyzABCDEFGH0123456789_-",
                                                                         k=11))
        return f"https://{host}/{self.camp.first.year}/{r.randint(1000000, 9999999)}.html"

    def _news_link(self, day: date, slug: str) -> str:
        return f"https://{self.r.choice(_NEWS_DOMAINS)}/{day:%Y/%m/%d}/{slug.lower()}-{self.r.randint(100, 999)}"

    def trends_at(self, ts: int) -> list[Event]:
        """Events trending on the (UTC) day of ts: from the day before to six days after."""
        day = int(ts) // 86400
        if day not in self._trending:
            d = date.fromordinal(day + date(1970, 1, 1).toordinal())
            self._trending[day] = [ev for ev in self.camp.events if -1 <= (d - ev.day).days <= 6]
        return self._trending[day]

    # -- outside posts ---------------------------------------------------------------------
    def _state_media_posts(self) -> list[Target]:
        r, out = self.r, []
        for i in range(max(12, len(self.people) // 12)):
            handle = _STATE_MEDIA[i % len(_STATE_MEDIA)]
            day = date.fromordinal(int(self.rng.choice(self.cal.days, p=self.cal.state / self.cal.state.sum())))
            ts = _utc_ts(day, r.uniform(1, 11))  # Beijing daytime
            lang = "en" if r.random() < 0.6 else "zh"
            body = text(f"{lang}.smlead", r) + text(f"bank.{lang}", r, self.code)
            link = r.choice(self.state_links)
            tags = [r.choice(self.camp.narrative_tags)] if r.random() < 0.5 else []
            out.append(Target(_external_uid(handle), handle, self.new_tid(ts, 7), ts,
                              " ".join([body, *(f"#{t}" for t in tags), _tco(r)]), tags, [link], 1.0))
        return out

    def _external_viral(self) -> dict[str, list[Target]]:
        """Viral posts from outside the dumps, mostly on news days: what crowds retweet."""
        r, rng, out = self.r, self.rng, {}
        for group, (handles, domains, lang) in _COMMUNITIES.items():
            posts = []
            for _ in range(max(6, len(self.people) // 40)):
                ev = r.choice(self.camp.events)
                day = date.fromordinal(ev.day.toordinal() + int(rng.integers(0, 4)))
                ts = _utc_ts(day, r.uniform(0, 24))
                handle = r.choice(handles)
                tag = r.choice(ev.tags)
                body = text(f"{lang}.take", r, self.code) if r.random() < 0.6 else text(f"{lang}.react", r)
                link = f"https://{r.choice(domains)}/{day:%Y%m%d}/{r.randint(10000, 99999)}"
                posts.append(Target(_external_uid(handle), handle, self.new_tid(ts, 9), ts,
                                    f"{body} #{tag} {_tco(r)}", [tag], [link], float(1 + rng.pareto(1.0)) * 3))
            out[group] = posts
        return out

    def _wire(self) -> list[tuple[int, str, str]]:
        """Wire headlines (time, language, text) that every news bot picks from."""
        r, out = self.r, []
        for d in self.cal.days:
            for _ in range(3):
                lang = _weighted(r, (("en", 0.5), ("zh", 0.3), ("zt", 0.2)))
                out.append((_utc_ts(date.fromordinal(int(d)), r.uniform(0, 24)), lang, text("head." + lang, r, self.code)))
        return out

    # -- text of originals -------------------------------------------------------------------
    def lang_of(self, p: Person) -> str:
        return self.r.choices(p.langs, weights=p.lang_p)[0]

    def bank_line(self, lang: str) -> str:
        return text(f"bank.{lang}", self.r, self.code)

    def retouch(self, msg: str, lang: str) -> str:
        """Copy-paste with light edits: a lead-in, a closer, a word swapped, punctuation."""
        r = self.r
        base = "zh" if lang == "zt" and f"{lang}.io_lead" not in _LEX else lang
        if r.random() < 0.35:
            for a, b in r.sample(_swaps(base), min(2, len(_swaps(base)))):
                if a in msg:
                    msg = msg.replace(a, b, 1)
                    break
        if lang != "en" and r.random() < 0.25:
            msg = msg.replace("，", ",") if r.random() < 0.5 else msg.replace("？", "?")
        msg = text(f"{base}.io_lead", r) + msg + text(f"{base}.io_close", r)
        if r.random() < 0.15:
            msg += r.choice(("🇨🇳", "💪", "🙏", "❗"))
        return msg

    def script_line(self, p: Person, ts: int, lang: str) -> str:
        """The cell's line of the day: every member posts it, each with their own edits."""
        day = (ts + _UTC8 * 60) // 86400
        key = (p.cell, day * 3 + ("zh", "zt", "en").index(lang))
        if key not in self.scripts:
            self.scripts[key] = self.bank_line(lang)
        return self.scripts[key]

    def say(self, p: Person, ts: int) -> tuple[str, str]:
        """(text, kind) of one original post by p at ts."""
        r, code, role = self.r, self.code, p.role.name
        lang = self.lang_of(p)
        zh_or = "zh" if lang == "en" else lang  # voices that are Chinese-only
        u = r.random()
        if role == "copyist":
            if u < 0.8:
                line = self.script_line(p, ts, lang) if p.cell >= 0 and r.random() < 0.75 else self.bank_line(lang)
                return self.retouch(line, lang), "narrative"
            return (text("zh.camo" if lang != "en" else "en.camo", r), "camouflage") if u < 0.9 else (
                text(f"{lang}.daily", r), "daily")
        if role == "booster":
            if u < 0.5:
                return self.retouch(self.bank_line(lang), lang), "narrative"
            return text("en.camo" if lang == "en" else "zh.camo", r), "camouflage"
        if role == "scenery":
            if u < 0.85:
                return text("en.camo" if lang == "en" else "zh.camo", r), "camouflage"
            return self.retouch(self.bank_line(lang), lang), "narrative"
        if role == "sleeper":
            if u < 0.75:
                if lang == "en":
                    return text("en.w_open", r) + " " + text("w_claim", r, code) + text("en.w_close", r), "own"
                return (text("zh.s_open", r) + text("s_claim", r, code) + "。" + text("zh.s_reason", r) + "，"
                        + text("zh.s_close", r)), "own"
            return text(f"{zh_or}.daily", r), "daily"
        if role == "westerner":
            if u < 0.8:
                return text("en.w_open", r) + " " + text("w_claim", r, code) + text("en.w_close", r), "own"
            return text("en.daily", r), "daily"
        if role == "fan":
            return (text(f"{lang}.react", r), "react") if u < 0.6 else (text(f"{lang}.daily", r), "daily")
        if role == "pundit":
            return (text(f"{lang}.take", r, code), "take") if u < 0.9 else (text(f"{lang}.daily", r), "daily")
        if role == "reporter":
            rl = "en" if lang == "en" else "zt"
            if u < 0.3:
                io_lang = "en" if rl == "en" else "zt"
                return text(f"{rl}.rep_quote", r, io=self.bank_line(io_lang)), "quote_io"
            return text(f"{rl}.rep_own", r, code), "report"
        if role == "patriot":
            if u < 0.65 and lang != "en":
                return text("zh.p_open", r) + text("p_claim", r, code) + text("zh.p_close", r), "stance"
            if u < 0.8:
                return text("slogan", r, code), "slogan"  # organic copy-paste
            return text(f"{lang}.daily", r), "daily"
        if role == "newcomer":
            if u < 0.5:
                return text(f"{lang}.daily", r), "daily"
            if u < 0.8:
                return text(f"{lang}.react", r), "react"
            return text("zh.p_open", r) + text("p_claim", r, code) + text("zh.p_close", r), "stance"
        return (text(f"{lang}.daily", r), "daily") if u < 0.85 else (text(f"{lang}.react", r), "react")

    def dress(self, p: Person, body: str, kind: str, ts: int) -> tuple[str, list[str], list[str]]:
        """Hashtags and links for an original: the operation's tags, trending tags, links."""
        r, role = self.r, p.role
        tags: list[str] = []
        links: list[str] = []
        if r.random() < role.tag_rate:
            trending = self.trends_at(ts)
            if p.side == STATE:
                if kind == "narrative" or r.random() < 0.3:
                    tags.append(r.choice(self.camp.narrative_tags))
                if trending and r.random() < 0.25:  # hashtag hijacking
                    tags.append(r.choice(r.choice(trending).tags))
            else:
                if trending and r.random() < 0.8:
                    tags.append(r.choice(r.choice(trending).tags))
                elif r.random() < 0.5:
                    tags.append(r.choice(self.camp.evergreen_tags))
                if role.name == "patriot" and r.random() < 0.5:
                    tags.append(r.choice(self.camp.narrative_tags))
        if r.random() < role.link_rate:
            if p.side == STATE or (role.name == "patriot" and r.random() < 0.5):
                links.append(r.choice(self.state_links))
            else:
                trending = self.trends_at(ts)
                if trending and r.random() < 0.7:
                    links.append(r.choice(self.trend_links[r.choice(trending).tags[0]]))
                else:
                    links.append(self._news_link(datetime.fromtimestamp(ts, UTC).date(), "story"))
        tags = list(dict.fromkeys(tags))
        pieces = [body + (p.emoji if p.side == ORGANIC and r.random() < 0.3 else "")]
        pieces += [f"#{t}" for t in tags if f"#{t}" not in body]
        pieces += [_tco(r) for _ in links]
        return " ".join(pieces), tags, links

    # -- posts --------------------------------------------------------------------------------
    def post(self, p: Person, ts: int, body: str, **kw) -> Post:
        app = self.r.choices(p.apps, weights=p.app_p)[0]
        out = Post(self.new_tid(ts, p.worker), p, int(ts), body, app, **kw)
        if p.side == ORGANIC and app in (_IPHONE, _ANDROID) and p.zone in _CITY_AT_ZONE and self.r.random() < 0.015:
            lat, lon = _CITY_AT_ZONE[p.zone]
            out.geo = (round(lat + self.r.uniform(-0.08, 0.08), 6), round(lon + self.r.uniform(-0.08, 0.08), 6))
        p.posts.append(out)
        return out

    def originals(self, p: Person) -> list[Post]:
        n = p.plan[0]
        if n == 0:
            return []
        if p.role.name == "headline_bot":
            return self._bot_posts(p, n)
        out = []
        for ts in self.cal.times(p, n, self.rng):
            body, kind = self.say(p, int(ts))
            full, tags, links = self.dress(p, body, kind, int(ts))
            out.append(self.post(p, int(ts), full, tags=tags, links=links))
        return out

    def _bot_posts(self, p: Person, n: int) -> list[Post]:
        """A news bot reposts wire headlines minutes after they break, as other bots do."""
        r, rng = self.r, self.rng
        mine = [w for w in self.wire if w[1] in p.langs and p.lang_p[p.langs.index(w[1])] > 0.15] or self.wire
        picks = rng.choice(len(mine), size=n, replace=n > len(mine))
        out = []
        for i in np.sort(picks):
            ts0, lang, head = mine[int(i)]
            ts = ts0 + 30 + int(rng.exponential(300))
            if ts < _day_seconds(p.born):
                continue
            trending = self.trends_at(ts)
            tags = [r.choice(trending).tags[0]] if trending and r.random() < 0.4 else []
            link = self._news_link(datetime.fromtimestamp(ts, UTC).date(), "wire")
            body = " ".join([text(f"{lang}.newsfix", r) + head, *(f"#{t}" for t in tags), _tco(r)])
            out.append(self.post(p, ts, body, tags=tags, links=[link]))
        return out


def _pick_targets(pool: list[Target], k: int, rng: np.random.Generator, exclude: Person | None = None) -> list[Target]:
    """Up to k distinct targets, by weight (popular posts are retweeted by many)."""
    pool = [t for t in pool if t.post is None or t.post.who is not exclude]
    if not pool or k <= 0:
        return []
    w = np.asarray([t.weight for t in pool], float)
    idx = rng.choice(len(pool), size=min(k, len(pool)), replace=False, p=w / w.sum())
    return [pool[int(i)] for i in idx]


# Share of an operator's retweets that go to their own cell's posts, by role.
_MUTUAL = {"booster": 0.78, "copyist": 0.55, "scenery": 0.45, "sleeper": 0.25, "westerner": 0.15, "lurker": 0.0}
# Share of an organic account's retweets that go to its communities' popular posts.
_VIRAL = {"fan": 0.85, "patriot": 0.45, "reporter": 0.5, "pundit": 0.4, "local": 0.45, "newcomer": 0.5,
          "headline_bot": 0.2, "quiet": 0.0}


def _cell_pools(world: World) -> tuple[dict[int, list[Target]], dict[Person, int]]:
    """Each cell's posts as targets, and how many of them each member retweets.

    A cell pushes a few posts and most members retweet each of them: it pushes half as many
    posts as its typical member retweets from the cell (so a heavy amplifier does not decide
    alone), and pushed posts take about four fifths of the cell's retweets.
    """
    rng = world.rng
    k_cell: dict[Person, int] = {}
    cells: dict[int, list[Person]] = {}
    for p in world.people:
        if p.side == STATE and p.cell >= 0:
            k_cell[p] = int(rng.binomial(p.plan[1], _MUTUAL[p.role.name]))
            cells.setdefault(p.cell, []).append(p)
    pools: dict[int, list[Target]] = {}
    for cell, members in cells.items():
        posts = [x for p in members for x in p.posts]
        if not posts:
            continue
        typical = statistics.median([k_cell[p] for p in members if k_cell[p] > 0] or [0])
        n_push = int(np.clip(round(typical), 1, len(posts)))
        pushed = {int(i) for i in rng.choice(len(posts), size=n_push, replace=False)}
        heavy = 4.0 * max(1, len(posts) - n_push) / n_push
        pools[cell] = [_target(x, heavy if i in pushed else 1.0) for i, x in enumerate(posts)]
    return pools, k_cell


def _organic_pools(world: World) -> tuple[dict[str, list[Target]], dict[int, list[Target]], list[Target]]:
    """Per community, its popular posts (outside viral posts, commentators, the odd lucky
    post of anyone) with Zipf popularity by rank; friend circles' posts; critics' posts."""
    rng, r = world.rng, world.r
    seeds: dict[str, list[Target]] = {g: list(v) for g, v in world.viral.items()}
    circles: dict[int, list[Target]] = {}
    critics: list[Target] = []
    for p in world.people:
        if p.side != ORGANIC:
            continue
        for x in p.posts:
            if p.role.name == "pundit" or (p.role.name in ("reporter", "local", "fan") and r.random() < 0.04):
                # big audiences rank first
                w = float(math.log10(10 + p.fans)) * (1 + rng.pareto(1.5))
                for g in p.groups:
                    seeds[g].append(_target(x, w))
            if p.circle >= 0:
                circles.setdefault(p.circle, []).append(_target(x))
            if p.role.name in ("reporter", "pundit"):
                critics.append(_target(x))
    for pool in seeds.values():
        ranked = sorted(range(len(pool)), key=lambda i: -pool[i].weight)
        for rank, i in enumerate(ranked, start=1):
            pool[i].weight = rank ** -1.1
    return seeds, circles, critics


def _retweet_picks(world: World, p: Person, cells: dict[int, list[Target]], k_cell: int,
                   seeds: dict[str, list[Target]], circles: dict[int, list[Target]]) -> list[tuple[Target, float]]:
    """What p retweets, each with the typical delay (seconds) after the original."""
    rng, r = world.rng, world.r
    n_rt, role = p.plan[1], p.role.name
    picks: list[tuple[Target, float]] = []
    sm = world.state_media
    if p.side == STATE:
        # its cell within minutes, state media within the hour, trending posts hours later
        picks += [(t, 200.0) for t in _pick_targets(cells.get(p.cell, []), k_cell, rng, p)]
        picks += [(t, 2400.0) for t in _pick_targets(sm, int(rng.binomial(n_rt - len(picks), 0.7)), rng)]
        hijack = [t for g in ("china_watch", "cn_web") for t in seeds[g]]
        picks += [(t, 9000.0) for t in _pick_targets(hijack, n_rt - len(picks), rng)]
    else:
        fast = 900.0 if role in ("fan", "patriot") else 4800.0
        pool = [t for g in p.groups for t in seeds[g]]
        picks += [(t, fast) for t in _pick_targets(pool, int(rng.binomial(n_rt, _VIRAL[role])), rng, p)]
        if role == "patriot":
            picks += [(t, 3600.0) for t in _pick_targets(sm, int(rng.binomial(n_rt - len(picks), 0.6)), rng)]
        if p.circle >= 0:
            k_circle = int(rng.binomial(n_rt - len(picks), 0.6))
            picks += [(t, 7200.0) for t in _pick_targets(circles.get(p.circle, []), k_circle, rng, p)]
    # the long tail: outside posts nobody else in the dumps retweets (negative delay: known)
    for ts in world.cal.times(p, max(0, n_rt - len(picks)), rng):
        handle = r.choice(_STATE_MEDIA) if p.side == STATE else f"{r.choice(_LEX['name.word'])}{r.randint(1, 9999)}"
        body = world.bank_line(r.choice(("zh", "en"))) if p.side == STATE else text(f"{world.lang_of(p)}.daily", r)
        t0 = int(ts) - int(rng.integers(300, 86400 * 3))
        picks.append((Target(_external_uid(handle), handle, world.new_tid(t0, 11), t0, body, [], []), -float(ts - t0)))
    return picks


def interactions(world: World) -> None:
    """Retweets, replies and quotes of every account, after all originals exist."""
    rng = world.rng
    cells, k_cell = _cell_pools(world)
    seeds, circles, critics = _organic_pools(world)
    for p in world.people:
        _orig, n_rt, n_rep, n_quo = p.plan
        if n_rt + n_rep + n_quo == 0:
            continue
        born_ts = _day_seconds(p.born) + 86400
        for tgt, delay in _retweet_picks(world, p, cells, k_cell.get(p, 0), seeds, circles):
            if delay < 0:
                ts = tgt.ts - int(delay)
            else:
                ts = tgt.ts + 20 + int(rng.lognormal(math.log(delay), 0.8 if p.side == STATE else 1.2))
            if ts < born_ts:
                continue
            world.post(p, ts, f"RT @{tgt.handle}: {tgt.text}", tags=list(tgt.tags), links=list(tgt.links),
                       mentions=[tgt.uid], rt=(tgt.uid, tgt.tid))
            if tgt.post is not None:
                tgt.post.rts += 1
        _replies(world, p, n_rep, cells, seeds, circles, critics, born_ts)
        _quotes(world, p, n_quo, seeds, born_ts)


def _replies(world: World, p: Person, n: int, cell_posts, seeds, circles, critics, born_ts: int) -> None:
    rng, r = world.rng, world.r
    if n <= 0:
        return
    if p.side == STATE:
        k_troll = int(rng.binomial(n, 0.55))
        plan = [(t, "troll", 1800.0) for t in _pick_targets(critics, k_troll, rng)]
        plan += [(t, "cheer", 600.0) for t in _pick_targets(cell_posts.get(p.cell, []), n - len(plan), rng, p)]
    else:
        pool = [t for g in p.groups for t in seeds[g]] + circles.get(p.circle, [])
        plan = [(t, "reply", 3600.0) for t in _pick_targets(pool, n, rng, p)]
    for tgt, what, delay in plan:
        ts = tgt.ts + 30 + int(rng.lognormal(math.log(delay), 1.0))
        if ts < born_ts:
            continue
        lang = world.lang_of(p)
        body = f"@{tgt.handle} {text(f'{lang}.{what}', r)}"
        x = world.post(p, ts, body, mentions=[tgt.uid], reply=(tgt.uid, tgt.tid))
        x.likes = int(rng.poisson(0.3 * p.role.applause))
        if tgt.post is not None:
            tgt.post.replies += 1


def _quotes(world: World, p: Person, n: int, seeds, born_ts: int) -> None:
    rng, r = world.rng, world.r
    if n <= 0:
        return
    if p.side == STATE or p.role.name in ("reporter", "patriot"):
        pool = world.state_media
    else:
        pool = [t for g in p.groups for t in seeds[g]]
    for tgt in _pick_targets(pool, n, rng, p):
        ts = tgt.ts + 60 + int(rng.lognormal(math.log(5400), 1.0))
        if ts < born_ts:
            continue
        lang = world.lang_of(p)
        if p.side == STATE:
            body = world.retouch(world.bank_line(lang), lang)
        elif p.role.name == "reporter":
            rl = "en" if lang == "en" else "zt"
            body = text(f"{rl}.rep_quote", r, io=world.bank_line(rl))
        else:
            body, _kind = world.say(p, ts)
        x = world.post(p, ts, f"{body} {_tco(r)}", quote=tgt.tid)
        x.likes = int(rng.poisson(p.role.applause))
        if tgt.post is not None:
            tgt.post.quotes += 1


def _engagement(world: World) -> None:
    """Counts of originals: heavy-tailed, growing with the audience, plus what the dump did."""
    rng = world.rng
    for p in world.people:
        audience = (1.0 + p.fans) ** 0.45
        for x in p.posts:
            if x.rt is not None or x.reply is not None or x.quote is not None:
                continue
            likes = int(rng.poisson(p.role.applause * audience * rng.lognormal(0, 0.9)))
            x.likes += likes
            x.rts += int(rng.poisson(likes * 0.22))
            x.replies += int(rng.poisson(likes * 0.05))
            x.quotes += int(rng.poisson(likes * 0.012))


# ======================================================================================
# Writing
# ======================================================================================


def _list_cell(values: list[str], fmt: Format, ids: bool = False) -> str:
    if not values:
        return fmt.empty_list
    if ids and fmt.int_mentions:
        return "[" + ", ".join(v if v.isdigit() else repr(v) for v in values) + "]"
    return repr(list(values))


def _profile(p: Person) -> list[str]:
    return [p.name, p.handle, p.place, p.bio, p.url, str(p.fans), str(p.follows), p.born.isoformat(), p.ui_lang]


def _tweet_row(x: Post, fmt: Format, r: random.Random) -> list[str]:
    p = x.who
    counts = [str(x.quotes), str(x.replies), str(x.likes), str(x.rts)]
    if (x.rt is not None and fmt.retweet_counts_blank) or (fmt.blank_counts and r.random() < fmt.blank_counts):
        counts = ["", "", "", ""]
    reply_uid, reply_tid = (x.reply[0], str(x.reply[1])) if x.reply else ("", "")
    rt_uid, rt_tid = (x.rt[0], str(x.rt[1])) if x.rt else ("", "")
    lat, lon = (f"{x.geo[0]:.6f}", f"{x.geo[1]:.6f}") if x.geo else ("absent", "absent")
    return [str(x.tid), p.uid, *_profile(p), tweet_language(x.text, r), x.text,
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(x.ts)), x.app, reply_uid, reply_tid,
            "" if x.quote is None else str(x.quote), fmt.bools[0 if x.rt else 1], rt_uid, rt_tid, lat, lon,
            *counts, _list_cell(x.tags, fmt), _list_cell(x.links, fmt), _list_cell(x.mentions, fmt, ids=True)]


def _csv_blob(rows) -> bytes:
    sink = io.StringIO()
    csv.writer(sink, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return sink.getvalue().encode("utf-8")


def _zip_blob(members: list[tuple[str, bytes]], when: date) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(when.year, when.month, when.day, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def write_dump(folder: Path, camp: Campaign, label: str, people: list[Person], r: random.Random) -> list[Path]:
    """The users file and tweets file(s) of one dump. Packaging: gz_tweets (tweets gzipped),
    gz_users (users gzipped), zip (one archive holding both), parts (tweets in three files,
    each with the header)."""
    kind, stem = camp.files[label]
    folder.mkdir(parents=True, exist_ok=True)
    # users in order of registration; tweets grouped by account, newest first (as timelines
    # are collected), accounts in shuffled order
    users = [list(USERS_HEADER)] + [[p.uid, *_profile(p)] for p in sorted(people, key=lambda q: (q.born, q.uid))]
    order = list(people)
    r.shuffle(order)
    tweets = [list(TWEETS_HEADER)]
    for p in order:
        tweets += [_tweet_row(x, camp.fmt, r) for x in sorted(p.posts, key=lambda y: -y.tid)]
    users_name = f"{stem}_users_csv_hashed.csv"
    tweets_name = f"{stem}_tweets_csv_hashed.csv"
    out: list[tuple[Path, bytes]] = []
    if kind == "zip":
        blob = _zip_blob([(users_name, _csv_blob(users)), (tweets_name, _csv_blob(tweets))], camp.last)
        out.append((folder / f"{stem}.zip", blob))
    else:
        users_blob = _csv_blob(users)
        if kind == "gz_users":
            out.append((folder / f"{users_name}.gz", gzip.compress(users_blob, compresslevel=9, mtime=0)))
        else:
            out.append((folder / users_name, users_blob))
        if kind == "gz_tweets":
            out.append((folder / f"{tweets_name}.gz", gzip.compress(_csv_blob(tweets), compresslevel=9, mtime=0)))
        elif kind == "parts":  # each part repeats the header
            body = tweets[1:]
            step = -(-len(body) // 3) or 1
            for i in range(3):
                out.append((folder / f"{stem}_tweets_csv_hashed_part{i + 1}.csv",
                            _csv_blob([tweets[0], *body[i * step:(i + 1) * step]])))
        else:
            out.append((folder / tweets_name, _csv_blob(tweets)))
    for path, blob in out:
        path.write_bytes(blob)
    return [path for path, _ in out]


# ======================================================================================
# Entry point
# ======================================================================================


def build_campaign(camp: Campaign, index: int, seed: int, n: int, used: set[str]) -> World:
    """Accounts and posts of one campaign (both dumps), not yet written."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2022, index]))
    r = random.Random(f"shifted/{seed}/{camp.name}")
    people = make_people(camp, n, used, rng, r)
    world = World(camp, people, rng, r)
    for p in people:
        world.originals(p)
    interactions(world)
    _engagement(world)
    return world


def generate_world(seed: int, n_accounts: int, out_dir: Path) -> dict:
    """Write the shifted world's dumps under `out_dir`; the same seed gives the same bytes.

    Returns {campaign: {label: {"accounts": n, "tweets": n, "files": [paths relative to
    out_dir]}}}. About 30% of the accounts are state-linked; at n_accounts=1000 the world
    holds about 30,000 tweets.
    """
    if n_accounts < 40:
        raise ValueError(f"n_accounts must be at least 40 (two campaigns, two dumps each), not {n_accounts}.")
    out_dir = Path(out_dir)
    used: set[str] = set()  # userids across campaigns: no account in two dumps
    summary: dict = {}
    sizes = [n_accounts // 2 + n_accounts % 2, n_accounts // 2]
    for i, (camp, n) in enumerate(zip(CAMPAIGNS, sizes)):
        world = build_campaign(camp, i, seed, n, used)
        summary[camp.name] = {}
        for label in (STATE, ORGANIC):
            members = [p for p in world.people if p.side == label]
            files = write_dump(out_dir / camp.name / label, camp, label, members, world.r)
            summary[camp.name][label] = {
                "accounts": len(members),
                "tweets": sum(len(p.posts) for p in members),
                "files": [str(f.relative_to(out_dir)) for f in files],
            }
    return summary


def main(argv: list[str] | None = None) -> None:
    import argparse
    import json

    ap = argparse.ArgumentParser(description="Write the shifted world's archive-format dumps.")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS)
    args = ap.parse_args(argv)
    print(json.dumps(generate_world(args.seed, args.accounts, args.out_dir), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
