"""Personal names, passport numbers and venue names, built column-wise with Arrow kernels."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from epicore.synth.sampling import fixed_width_strings

# The 100 most common surnames and their approximate share of the population in percent. Order
# and the leading shares (王 李 张 刘 陈 about 7.1/7.0/6.7/5.4/4.5 %) follow the Ministry of Public
# Security's household-registration name reports (公安部户政管理研究中心《二〇二〇年全国姓名报告》,
# 2021, and the 2019 edition); shares below the top 20 are interpolated and approximate. The
# remaining ~14 % of people get one of the tail surnames uniformly (assumption).
SURNAME_SHARES = (
    "王7.10 李7.00 张6.70 刘5.40 陈4.50 杨3.10 黄2.30 赵2.30 吴2.05 周2.00 徐1.67 孙1.54 马1.38 "
    "朱1.26 胡1.31 郭1.15 何1.06 林1.18 高1.00 罗0.86 郑0.78 梁0.75 谢0.70 宋0.66 唐0.66 许0.63 "
    "韩0.61 冯0.60 邓0.58 曹0.56 彭0.55 曾0.52 肖0.50 田0.50 董0.48 袁0.46 潘0.45 于0.45 蒋0.44 "
    "蔡0.43 余0.43 杜0.42 叶0.42 程0.41 苏0.40 魏0.39 吕0.39 丁0.38 任0.37 沈0.36 姚0.35 卢0.35 "
    "姜0.34 崔0.33 钟0.33 谭0.32 陆0.31 汪0.30 范0.30 金0.29 石0.29 廖0.28 贾0.27 夏0.26 韦0.26 "
    "付0.26 方0.25 白0.25 邹0.24 孟0.24 熊0.24 秦0.23 邱0.23 江0.23 尹0.22 薛0.22 闫0.21 段0.21 "
    "雷0.21 侯0.20 龙0.20 史0.20 陶0.19 黎0.19 贺0.19 顾0.18 毛0.18 郝0.18 龚0.17 邵0.17 万0.17 "
    "钱0.16 严0.16 覃0.16 武0.16 戴0.16 莫0.15 孔0.15 向0.15 汤0.15"
)
TAIL_SURNAMES = "洪庄傅施游柯詹翁纪欧阳颜连赖康温涂巫卓童骆戚鲍常葛管柳祝尤殷包"
TAIL_SHARE = 14.0
# 陈 and 林 lead the surname ranking in Fujian, followed by 黄 张 吴 李 王 郑 (Fujian provincial
# rankings from the same reports). Multipliers applied to Fujian-born households (assumption).
FUJIAN_BOOST = {
    "陈": 2.6,
    "林": 5.0,
    "黄": 1.8,
    "吴": 1.5,
    "郑": 2.0,
    "许": 1.6,
    "蔡": 2.5,
    "洪": 3.0,
}

# Characters of given names by generation and sex. Modern lists follow the most frequent
# newborn names of 2019-2020 in the same reports (奕辰 宇轩 浩宇 / 一诺 依诺 欣怡 梓涵 ...);
# classic lists the common characters of people born before 2000 (assumption: hand-picked).
GIVEN_CLASSIC_M = (
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林阳建峰国文志海东荣成立新庆春德金永清"
)
GIVEN_CLASSIC_F = "芳娜敏静丽艳娟霞秀玲燕婷雪慧琳颖倩洁晶萍红梅莉英华兰凤琴云玉珍桂美爱"
GIVEN_MODERN_M = "子梓浩宇轩睿辰泽俊博文一铭昊然奕航宸皓逸晨诚钧"
GIVEN_MODERN_F = "梓涵欣怡诗雨萱思语嘉佳琪可馨若晗悦彤桐依诺一梦"
MODERN_FROM_YEAR = 2000  # assumption: the naming fashion shifts around 2000
# Share of single-character given names. Assumption, consistent with the reports' remark that
# two-character given names dominate among newborns while one-character ones were common earlier.
SINGLE_GIVEN_BEFORE_1990 = 0.30
SINGLE_GIVEN_1990_2004 = 0.15
SINGLE_GIVEN_FROM_2005 = 0.06


def surname_table(fujian: bool = False) -> tuple[list[str], np.ndarray]:
    """Surnames and their probabilities (national, or with the Fujian multipliers)."""
    names, shares = [], []
    for item in SURNAME_SHARES.split():
        names.append(item[0])
        shares.append(float(item[1:]))
    tail = [c for c in TAIL_SURNAMES if c not in names]
    names += tail
    shares += [TAIL_SHARE / len(tail)] * len(tail)
    weights = np.array(shares)
    if fujian:
        weights = weights * np.array([FUJIAN_BOOST.get(n, 1.0) for n in names])
    return names, weights / weights.sum()


def chinese_names(
    rng: np.random.Generator, surname_idx: np.ndarray, male: np.ndarray, birth_year: np.ndarray
) -> pa.Array:
    """Family name + one or two given-name characters, chosen by sex and birth cohort."""
    names, _ = surname_table()
    n = len(surname_idx)
    modern = birth_year >= MODERN_FROM_YEAR
    p_single = np.select(
        [birth_year < 1990, birth_year < 2005],
        [SINGLE_GIVEN_BEFORE_1990, SINGLE_GIVEN_1990_2004],
        SINGLE_GIVEN_FROM_2005,
    )
    single = rng.random(n) < p_single
    lists = [GIVEN_CLASSIC_F, GIVEN_CLASSIC_M, GIVEN_MODERN_F, GIVEN_MODERN_M]
    chars = pa.array(list("".join(lists)) + [""])
    offsets = np.cumsum([0] + [len(s) for s in lists])
    sizes = np.array([len(s) for s in lists])
    which = male.astype(np.int64) + 2 * modern.astype(np.int64)
    first = offsets[which] + (rng.random(n) * sizes[which]).astype(np.int64)
    second = offsets[which] + (rng.random(n) * sizes[which]).astype(np.int64)
    second = np.where(single, len(chars) - 1, second)
    return pc.binary_join_element_wise(
        pa.array(names).take(pa.array(surname_idx)),
        chars.take(pa.array(first)),
        chars.take(pa.array(second)),
        "",
    )


# Nationalities of foreign residents and their weights. Assumption: a mix typical of a coastal
# city with Korean, Japanese, Southeast Asian and Western residents.
NATIONALITIES = {
    "KOR": 0.14, "USA": 0.12, "JPN": 0.10, "PHL": 0.10, "MYS": 0.07, "IDN": 0.07, "SGP": 0.05,
    "GBR": 0.05, "CAN": 0.05, "AUS": 0.04, "DEU": 0.04, "FRA": 0.04, "RUS": 0.04, "THA": 0.03,
    "VNM": 0.03, "IND": 0.03,
}  # fmt: skip
# Passport number shapes (9 = digit, A = letter, * = letter or digit), after the public
# descriptions of each state's passports; all match ICAO 9303's ^[A-Z0-9]{5,20}$.
PASSPORT_SHAPES = {
    "KOR": "M99999999", "USA": "999999999", "JPN": "AA9999999", "PHL": "P9999999A",
    "MYS": "A99999999", "IDN": "A9999999", "SGP": "K9999999A", "GBR": "999999999",
    "CAN": "AA999999", "AUS": "A9999999", "DEU": "C********", "FRA": "99AA99999",
    "RUS": "999999999", "THA": "AA9999999", "VNM": "A99999999", "IND": "A9999999",
}  # fmt: skip
FOREIGN_FAMILY = {
    "KOR": "KIM LEE PARK CHOI JUNG KANG",
    "JPN": "SATO SUZUKI TAKAHASHI TANAKA ITO WATANABE",
    "SEA": "SANTOS REYES TAN LIM WONG NGUYEN TRAN SIREGAR",
    "WEST": "SMITH JOHNSON BROWN MILLER MUELLER MARTIN IVANOV WILSON",
}
FOREIGN_GIVEN = {
    "KOR": "MINJUN SEOYEON JIHO HAEUN DOYUN JIWOO",
    "JPN": "HARUTO YUI SOTA HINA REN AOI",
    "SEA": "MARIA JOSE AHMAD SITI MINH WEI ANH NUR",
    "WEST": "JOHN EMMA MICHAEL ANNA DAVID SOPHIE",
}
_NAME_GROUP = {"KOR": "KOR", "JPN": "JPN", "PHL": "SEA", "MYS": "SEA", "IDN": "SEA", "SGP": "SEA"}
_NAME_GROUP |= {"THA": "SEA", "VNM": "SEA"}
_LETTERS = np.frombuffer(b"ABCDEFGHJKLMNPRSTUVWXYZ", dtype=np.uint8)  # no I, O, Q (assumption)
_ALNUM = np.concatenate([_LETTERS, np.frombuffer(b"0123456789", dtype=np.uint8)])


def passport_numbers(rng: np.random.Generator, nationality: np.ndarray) -> np.ndarray:
    """One passport number per person in the shape used by their country, all distinct."""
    out = np.empty(len(nationality), dtype=object)
    todo = np.arange(len(nationality))
    while todo.size:
        for code, shape in PASSPORT_SHAPES.items():
            idx = todo[nationality[todo] == code]
            if idx.size:
                out[idx] = _random_shaped(rng, shape, idx.size)
        # Shapes overlap between countries (e.g. nine digits), so check across all of them.
        seen: set[str] = set()
        dup = []
        for i, number in enumerate(out):
            if number in seen:
                dup.append(i)
            seen.add(number)
        todo = np.asarray(dup, dtype=np.int64)
    return out


def _random_shaped(rng: np.random.Generator, shape: str, n: int) -> np.ndarray:
    chars = np.empty((n, len(shape)), dtype=np.uint8)
    for j, c in enumerate(shape):
        pool = {"9": np.arange(48, 58, dtype=np.uint8), "A": _LETTERS, "*": _ALNUM}.get(c)
        chars[:, j] = ord(c) if pool is None else pool[rng.integers(0, len(pool), n)]
    return fixed_width_strings(chars).to_numpy(zero_copy_only=False)


def foreign_names(
    rng: np.random.Generator, nationality: np.ndarray, household: np.ndarray
) -> np.ndarray:
    """Romanised FAMILY GIVEN names as in the passport's machine-readable zone; one family
    name per household."""
    out = np.empty(len(nationality), dtype=object)
    groups = np.array([_NAME_GROUP.get(c, "WEST") for c in nationality], dtype=object)
    family_draw = rng.random(int(household.max()) + 1 if len(household) else 0)
    for group in sorted(set(groups)):
        idx = np.flatnonzero(groups == group)
        family = np.array(FOREIGN_FAMILY[group].split(), dtype=object)
        given = np.array(FOREIGN_GIVEN[group].split(), dtype=object)
        out[idx] = (
            family[(family_draw[household[idx]] * len(family)).astype(np.int64)]
            + " "
            + given[rng.integers(0, len(given), idx.size)]
        )
    return out


# Venue names: a place word (the township's or community's name without its suffix) plus a
# descriptor and the kind's noun, e.g. 莲前沙茶面馆, 筼筜生鲜超市. Lists are hand-picked
# (assumption) to read like real signboards in Xiamen.
VENUE_DESCRIPTORS = {
    "restaurant": "沙茶面 海鲜 闽南菜 家常菜 面线糊 牛肉 火锅 烧烤 小吃 快餐 土笋冻 姜母鸭".split(),
    "convenience_store": "便利 好邻居 快客 惠民 邻里".split(),
    "supermarket": "生鲜 万家 惠民 百姓 联华".split(),
    "shopping_mall": "万象 中心 天地 广场 汇".split(),
    "office_building": "国际 金融 科技 商务 中心".split(),
    "factory": "电子 机械 食品 纺织 光电 新材料 服装".split(),
    "gym": "健身 瑜伽 动力 力量".split(),
    "ktv": "欢乐 麦霸 星光 好乐迪".split(),
    "internet_cafe": "网鱼 星际 极速 电竞".split(),
    "hotel": "如家 海景 商务 假日 快捷".split(),
    "barbershop": "美发 造型 理发".split(),
    "bank": "工商银行 农业银行 中国银行 建设银行 交通银行 厦门银行 兴业银行".split(),
    "clinic": "社区卫生服务站 诊所 口腔诊所".split(),
    "pharmacy": "大药房 药店 医药".split(),
}
VENUE_NOUNS = {
    "restaurant": ["馆", "店", "酒楼", "餐厅"],
    "convenience_store": ["便利店"],
    "supermarket": ["超市"],
    "wet_market": ["菜市场", "农贸市场"],
    "shopping_mall": ["购物中心", "广场"],
    "office_building": ["大厦", "写字楼"],
    "factory": ["有限公司", "厂"],
    "gym": ["健身房", "健身中心"],
    "cinema": ["影城", "电影院"],
    "ktv": ["KTV"],
    "internet_cafe": ["网咖", "网吧"],
    "hotel": ["酒店", "宾馆"],
    "barbershop": ["店", "工作室"],
    "bank": ["支行"],
    "pharmacy": [""],
    "clinic": [""],
    "government_office": ["街道办事处", "派出所", "社区服务中心", "政务服务中心"],
    "bus_station": ["公交站"],
    "metro_station": ["地铁站"],
    "kindergarten": ["幼儿园"],
    "primary_school": ["小学"],
    "middle_school": ["中学"],
    "university": ["学院", "大学"],
    "hospital": ["医院"],
    "train_station": ["站"],
}
_SUFFIXES = ("街道", "办事处", "社区", "村", "镇", "乡", "区", "县", "市", "农场", "林场")


def short_place(name: str) -> str:
    """厦港街道 -> 厦港, 思明区 -> 思明: the place word people actually say."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def venue_names(
    rng: np.random.Generator,
    kind: np.ndarray,
    township: np.ndarray,
    community: np.ndarray,
    county: np.ndarray,
    city: str,
) -> list[str]:
    """Chinese names for venues (a Python loop per venue: ~15 venues per 1,000 residents)."""
    counters: dict[tuple[str, str], int] = {}
    out = []
    city_short = short_place(city)
    draws = rng.random((len(kind), 3))
    for k, t, c, co, (u0, u1, u2) in zip(kind, township, community, county, draws, strict=True):
        nouns = VENUE_NOUNS.get(k, [""])
        noun = nouns[int(u0 * len(nouns))]
        place = short_place(t) if u1 < 0.6 else short_place(c)
        if k in ("kindergarten", "primary_school", "middle_school", "hospital"):
            n = counters[(co, k)] = counters.get((co, k), 0) + 1
            out.append(f"{city}{co}第{_chinese_number(n)}{noun}")
        elif k == "university":
            n = counters[("", k)] = counters.get(("", k), 0) + 1
            subject = "理工 医学 师范 财经 工商 艺术 海洋 软件 外国语".split()[(n - 1) % 9]
            out.append(f"{city_short}{subject}{noun}" + (f"{n}" if n > 9 else ""))
        elif k == "train_station":
            n = counters[("", k)] = counters.get(("", k), 0) + 1
            out.append(city_short + ["", "北", "东", "西", "南"][(n - 1) % 5] + "站")
        elif k == "government_office":
            out.append(f"{short_place(t)}{noun}")
        elif k in ("bus_station", "metro_station"):
            out.append(f"{place}{'东西南北中'[int(u2 * 5)]}{noun}")
        else:
            words = VENUE_DESCRIPTORS.get(k, [""])
            out.append(f"{place}{words[int(u2 * len(words))]}{noun}")
    return out


def _chinese_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    return str(n)
