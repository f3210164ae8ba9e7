"""The raw material of demo people: surnames as common in 慈溪 (胡 陈 王 徐 孙 沈 岑 are much more
frequent here than nationally), given-name characters typical of each generation, and the local
details (area codes, phone prefixes, bank BINs) that make the data look like the agency's own."""

from __future__ import annotations

# Surname → relative weight (per mille, roughly the share among the county's older residents).
SURNAMES: dict[str, float] = {
    "陈": 78, "胡": 62, "王": 60, "徐": 48, "孙": 44, "沈": 44, "张": 38, "周": 34, "李": 30, "岑": 28,
    "叶": 24, "施": 24, "吴": 24, "朱": 20, "陆": 20, "杨": 18, "金": 16, "马": 15, "罗": 14, "黄": 14,
    "邵": 14, "俞": 14, "钱": 14, "潘": 14, "姚": 14, "郑": 14, "刘": 14, "方": 13, "余": 13, "应": 12,
    "毛": 12, "赵": 11, "韩": 10, "袁": 10, "严": 10, "高": 10, "史": 10, "谢": 9, "范": 9, "何": 9,
    "蒋": 9, "杜": 8, "傅": 8, "董": 8, "冯": 8, "章": 8, "鲁": 7, "宓": 6, "戚": 6, "卢": 6, "邹": 6,
    "柴": 5, "劳": 5, "褚": 5, "鲍": 5, "魏": 5, "虞": 5, "干": 3, "裘": 3, "楼": 4, "汪": 4, "任": 4,
    "丁": 4, "夏": 4, "谭": 3, "龚": 3, "翁": 3, "华": 3, "屠": 3, "邱": 3, "符": 2, "欧阳": 0.6,
    "诸葛": 0.3, "司马": 0.2,
}

# Given-name characters by generation. Older people (born before ~1960) have names from the farm and
# the family's hopes (根 水 福 娣 囡); the 1960s–70s have the revolution's and the era's words
# (国 建 军 红 华 英); the young have the 1980s–2000s fashions (杰 婷 磊 佳 琪 涵).
MALE_OLD = "根福财宝祥水土金生发荣才德林昌忠良兴顺贵海章云炳柏松桂定仁如庆康寿全银阿法明鑫元友"
MALE_MID = "国建军伟明华平东强志勇红卫兵新杰斌刚军海林民中文波峰立永先锋跃进华庆飞涛宏成光达亮"
MALE_YOUNG = "杰磊超鹏浩宇晨俊峰涛亮辉斌凯轩豪博翔帆阳睿哲航楠铭鑫煜宁瑞然皓川泽"
FEMALE_OLD = "娣英珍秀凤兰花妹仙月玉彩菊梅桂素云囡芬宝娟翠琴香珠蓉凤金银杏爱"
FEMALE_MID = "红英华芳萍丽娟霞燕美琴亚莉敏静玲君雅文萍春秋素洁慧群卫小建蓓"
FEMALE_YOUNG = "婷静佳琪雯颖洁倩璐莹蕾瑶涵欣怡萱悦晨露婕菲媛妍思梦雪"

# Area codes of the 身份证号 (issued where the person was registered at the time).
# 330282 慈溪市 (since 1988); 330222 the old 慈溪县 code on numbers issued before; neighbours next.
AREA_CODES: list[tuple[str, float]] = [
    ("330282", 82.0), ("330222", 5.0), ("330281", 4.0), ("330226", 1.5), ("330211", 1.5),
    ("330203", 1.0), ("330205", 1.0), ("330227", 0.8), ("330212", 0.8), ("330421", 0.5),
    ("330602", 0.4), ("342401", 0.5), ("362422", 0.3), ("512922", 0.3), ("522101", 0.2),
]
OLD_AREA_CODES = frozenset({"330222", "330227"})  # codes no longer issued: only on numbers before 1990

MOBILE_PREFIXES = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153",
    "155", "156", "157", "158", "159", "177", "180", "181", "182", "183", "185", "186", "187", "188",
    "189", "191", "198", "199",
]
LANDLINE_PREFIXES = ["0574-63", "0574-62", "0574-58", "0574-23"]  # 慈溪 exchanges

# Bank code → (weight, BINs of debit cards, card length, branch style).
BANKS: dict[str, tuple[float, list[str], int]] = {
    "CXRCB": (44, ["621058", "623091", "622858"], 19),  # 慈溪农商银行 丰收卡 (the pension bank)
    "ABC": (18, ["622848", "621282", "622845"], 19),
    "ICBC": (10, ["622202", "621226", "621723"], 19),
    "PSBC": (11, ["621799", "622188", "621098"], 19),
    "NBCB": (7, ["623058", "622281"], 16),
    "BOC": (5, ["621661", "621785", "456351"], 19),
    "CCB": (5, ["621700", "622700", "436742"], 19),
}
BANK_SHORT = {
    "CXRCB": "慈溪农商银行", "ABC": "农行慈溪", "ICBC": "工行慈溪", "PSBC": "邮储银行慈溪",
    "NBCB": "宁波银行慈溪", "BOC": "中行慈溪", "CCB": "建行慈溪",
}

ROADS = ["新城大道", "北三环", "孙塘路", "青少年宫路", "慈甬路", "峙山路", "界牌路", "明州路", "三北大街",
         "开发大道", "吉祥路", "文化路", "新江路", "解放街", "达蓬路", "浒崇公路"]
ESTATES = ["金山花园", "虞波小区", "担山小区", "三北小区", "南门小区", "阳光花苑", "白沙新村", "海关新村",
           "蓝天小区", "北门新村", "东门新村", "翠屏山庄", "嘉和园", "碧水苑"]
