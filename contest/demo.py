"""Demo data: Jinan's Vocational Education Activity Week, seeded through the domain services.

The contests, schools and accounts follow the names of the city's notice for the week; the
people, schools' stories and works are invented. Time windows (and the award dates) are
relative to "now", so a fresh demo always shows one contest in voting, one in judging and
one in 公示, and its prose names no year or day of its own. The contests are marked
``is_demo``, so the public pages say that the data is a demonstration. Every picture is drawn here with Pillow, and every short video made from such
pictures with ffmpeg, so the demo needs no network and no bundled photos or clips.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import delete, or_, select

from .accounts import audit, units
from .accounts import service as accounts
from .accounts.actors import SYSTEM
from .accounts.models import OrganisingUnit, User
from .clock import to_local
from .config import Settings, discover_cjk_font
from .contests import service as contests
from .contests.models import Category, Contest, Entry, NomineeProfile, School, SchoolContact, TeamMember
from .contests.service import ContestChanges
from .db import SessionLike
from .judging.demo import seed_judging
from .media import consent_form
from .media import demo as clips
from .media import service as media
from .media.models import MediaItem
from .media.service import Storage
from .results.demo import seed_votes_and_results
from .typesetting import cjk_font, wrap_text

Echo = Callable[[str], object]

THEME = "技能：让生活更美好"
WEEK = "济南市职业教育活动周"
# Slugs and passwords name no year: the demo places its contests around the day it is
# built, so a year in an address or a password would contradict the dates on screen.
MEIPAI, HUANGYANPEI, ZUIMEI = "meipai", "huangyanpei", "zuimei"
LIXIA, ZHANGQIU = "lixia-meipai", "zhangqiu-meipai"
DEMO_SLUGS = (MEIPAI, HUANGYANPEI, ZUIMEI, LIXIA, ZHANGQIU)
# The bodies the city's notice names, and two 区县 that run their own 全民美拍 (附件3).
BUREAU, SOCIETY = "济南市教育局", "济南市中华职业教育社"
LIXIA_UNIT, ZHANGQIU_UNIT = "历下区教育和体育局", "章丘区教育和体育局"
DEMO_UNITS = ((BUREAU, "city", ""), (SOCIETY, "city", ""), (LIXIA_UNIT, "district", "历下区"),
              (ZHANGQIU_UNIT, "district", "章丘区"))
STEPS = 7


# --- schools and people ---------------------------------------------------------------

# (name, district, level, enrolment): small, medium and large schools, so every
# quota band of the rules (below 2000, 2000–5000, above 5000) has members.
SCHOOLS: tuple[tuple[str, str, str, int], ...] = (
    ("济南职业学院", "市中区", "高职", 11800),
    ("济南工程职业技术学院", "长清区", "高职", 10600),
    ("山东劳动职业技术学院", "长清区", "高职", 9200),
    ("莱芜职业技术学院", "莱芜区", "高职", 8600),
    ("济南市技师学院", "历城区", "技工", 6400),
    ("济南市历城职业中等专业学校", "历城区", "中职", 4300),
    ("济南市章丘中等职业学校", "章丘区", "中职", 5200),
    ("济南商贸学校", "天桥区", "中职", 3100),
    ("济南电子机械工程学校", "槐荫区", "中职", 3600),
    ("济南旅游学校", "历下区", "中职", 2400),
    ("济南传媒学校", "市中区", "中职", 1500),
    ("济南市莱芜职业中等专业学校", "莱芜区", "中职", 3900),
    ("济南市钢城区职业中等专业学校", "钢城区", "中职", 1200),
    ("平阴县职业中等专业学校", "平阴县", "中职", 1900),
    ("商河县职业中等专业学校", "商河县", "中职", 1700),
    ("济阳区职业中等专业学校", "济阳区", "中职", 850),
)


@dataclass(frozen=True)
class DemoAccount:
    phone: str
    password: str
    roles: tuple[str, ...]
    name: str
    school: str = ""


STAFF = (
    DemoAccount("13800000001", "AdminJn01", ("admin", "organiser"), "平台管理员"),
    DemoAccount("13800000002", "OrgJn01a", ("organiser",), "市教育局职教处"),
    DemoAccount("13800000003", "OrgJn01b", ("organiser",), "市中华职教社"),
    DemoAccount("13800000004", "OrgLx01a", ("organiser",), "历下区教体局"),
    DemoAccount("13800000005", "OrgZq01a", ("organiser",), "章丘区教体局"),
)
# Each staff account's roles in the units: the city bodies run their contests together,
# so each is an organiser of the other's too (both people of a publication must be).
STAFF_UNITS = {
    STAFF[1].phone: ((BUREAU, "admin"), (SOCIETY, "organiser")),
    STAFF[2].phone: ((SOCIETY, "admin"), (BUREAU, "organiser")),
    STAFF[3].phone: ((LIXIA_UNIT, "admin"),),
    STAFF[4].phone: ((ZHANGQIU_UNIT, "admin"),),
}
JUDGE_NAMES = ("王建国", "李淑华", "张明远", "刘晓东", "陈雪梅", "赵立军", "孙海燕")
JUDGE_PASSWORD = "JudgeJn01"  # nosec B105
CONTACTS = (
    ("赵敏", "济南旅游学校"),
    ("钱海波", "济南电子机械工程学校"),
    ("周丽娟", "济南职业学院"),
    ("郑晓光", "济南市章丘中等职业学校"),
    ("冯雪", "济南商贸学校"),
    ("褚志刚", "济南工程职业技术学院"),
)
CONTACT_PASSWORD = "SchoolJn01"  # nosec B105
CITIZEN_NAMES = (
    "泉城光影", "大明湖畔", "趵突泉边的猫", "历下老张", "千佛山下", "章丘铁锅", "黄河边的风",
    "芙蓉街食客", "老济南", "小清河", "泉水叮咚", "长清山里人", "莱芜小记者", "平阴玫瑰",
    "商河花农", "济阳人家", "槐荫阿姨", "天桥车迷", "钢城焊工", "起步区追光者",
)
CITIZEN_PASSWORD = "CitizenJn01"  # nosec B105


def demo_accounts() -> list[DemoAccount]:
    """Every account the demo creates, in the order the summary prints them."""
    judges = [DemoAccount(f"138000000{11 + i}", JUDGE_PASSWORD, ("judge",), name) for i, name in enumerate(JUDGE_NAMES)]
    contacts = [DemoAccount(f"138000000{21 + i}", CONTACT_PASSWORD, ("school_contact",), name, school)
                for i, (name, school) in enumerate(CONTACTS)]
    citizens = [DemoAccount(f"139000000{1 + i:02d}", CITIZEN_PASSWORD, ("citizen",), name)
                for i, name in enumerate(CITIZEN_NAMES)]
    return [*STAFF, *judges, *contacts, *citizens]


# --- the three contests -----------------------------------------------------------------

# The contests' own words for what their data cannot say. Every number a rule holds
# (quotas, photo counts, video limits, votes, awards, dates) is written on the contest
# page from the rules, the results formula and the stage windows, never here.
MEIPAI_RULES = """一、活动主题

围绕职业教育活动周主题“技能：让生活更美好”，用镜头记录身边的技术技能之美：校园实训、企业车间、社区服务、非遗传承、乡村振兴……每一个用技能创造美好生活的瞬间，都值得被看见。

二、作品要求

摄影作品可为单幅或组照，可适度调色，不得合成或改变画面内容。
短视频横竖屏均可，画面清晰、声音清楚，鼓励配字幕。
作品须为本人原创；拍摄他人须征得同意，拍摄未成年人须征得其监护人同意。

三、评审

评委奖由摄影、影视和职业教育领域专家组成的评审组评出，从主题契合度、技能表现力、艺术性三方面评分。系统自动识别刷票等异常投票，经核查后作废。

四、异议

对评选结果有异议的，可在公示期内通过作品页面实名提出，组织者在平台上答复。

五、其他

投稿即视为同意主办单位在职业教育活动周相关宣传中非商业性使用作品，并为作者署名。"""

HUANGYANPEI_RULES = """一、大赛宗旨

弘扬黄炎培职业教育思想，展示职业院校学生的创新创业成果，推动产教融合、科教融汇，助力乡村振兴和城市发展。

二、参赛对象

全市职业院校（含技工院校）在籍学生。

三、赛道与组别

设创意组、初创组、成长组三个赛道：创意组面向尚未注册公司的创意项目；初创组面向注册未满三年的项目；成长组面向注册三年以上或已获得投资的项目。各赛道按学校类型分中职组和高职组，技工院校参加中职组。

四、评审程序

资格审核：组织者审核参赛资格和材料完整性。
网络评审（网评）：评委按评分细则在线独立评分，评分结束前互不可见；与参赛学校有关联的评委须回避。
决赛路演：网评成绩靠前的项目进入决赛，现场路演八分钟、答辩七分钟。

五、评审重点与推荐

评审重点为创新性、团队能力、商业模式、社会效益和职业教育特色。获奖项目推荐参加山东省黄炎培职业教育创新创业大赛。

六、公示

获奖名单在平台公示，接受社会监督。"""

ZUIMEI_RULES = """一、评选对象

全市职业院校（含技工院校）在籍学生。被推荐学生应品德优良、技能过硬，在技能成才、志愿服务、创新创业、非遗传承、自强不息等方面事迹突出。

二、材料要求

事迹材料实事求是、重点突出。学生个人信息只展示本人及监护人同意公开的部分。

三、专家评审

由职业教育专家、行业企业代表和媒体代表组成评审组评分。

四、公平与诚信

严禁利用技术手段或组织他人刷票，一经查实，取消相关投票，情节严重的取消参评资格。

五、异议

对评选结果有异议的，可在公示期内实名提出。"""


def _days(now: datetime, start: float, end: float) -> tuple[datetime, datetime]:
    return now + timedelta(days=start), now + timedelta(days=end)


def _award_day(changes: ContestChanges) -> date | None:
    """A contest's 颁奖日期: the first day of its 公示, in Beijing time."""
    start, _end = changes.windows.get("publicity", (None, None))
    return to_local(start).date() if start is not None else None


def contest_changes(now: datetime, unit_ids: dict[str, int] | None = None,
                    ) -> list[tuple[ContestChanges, str, tuple[str, ...]]]:
    """The city's three contests and two districts' 全民美拍, each with the kind of its
    categories and their names (`unit_ids`: the demo units' ids by name)."""
    ids = unit_ids or {}
    meipai = ContestChanges(
        slug=MEIPAI, kind="media", title="“技能：让生活更美好”全民美拍活动", short_title="全民美拍", theme=THEME,
        summary="用照片和短视频记录身边的技能之美。全体市民均可投稿，公众投票评出人气奖，专家评委评出评委奖。",
        unit_id=ids.get(BUREAU), co_unit_ids=(ids[SOCIETY],) if SOCIETY in ids else (), rules_text=MEIPAI_RULES, position=0,
        windows={"submission": _days(now, -10, 5), "review": _days(now, -9, 6), "voting": _days(now, -3, 7),
                 "judging": _days(now, 7, 10), "publicity": _days(now, 10, 15)},
        rules={"entries_per_person": 3, "min_image_width": 1600, "min_image_height": 900, "votes_per_day": 5,
               "votes_per_entry_per_day": 1, "captcha_mode": "risk"},
    )
    huangyanpei = ContestChanges(
        slug=HUANGYANPEI, kind="innovation", title="济南市首届黄炎培职业教育创新创业大赛", short_title="黄炎培大赛",
        theme=THEME, unit_id=ids.get(SOCIETY), co_unit_ids=(ids[BUREAU],) if BUREAU in ids else (),
        rules_text=HUANGYANPEI_RULES, position=2,
        summary="职业院校学生团队以创新创业项目参赛，分创意组、初创组、成长组三个赛道，经网络评审和决赛路演评出各组奖项。",
        windows={"submission": _days(now, -30, -15), "review": _days(now, -15, -10),
                 "judging": _days(now, -5, 5), "publicity": _days(now, 6, 11)},
        rules={"school_quota_small": 3, "school_quota_medium": 4, "school_quota_large": 5, "video_max_seconds": 300},
    )
    zuimei = ContestChanges(
        slug=ZUIMEI, kind="selection", title="济南市“最美职校生”网络评选活动", short_title="最美职校生", theme=THEME,
        summary="寻找技能成才、德技并修的身边榜样。学校推荐，网络投票与专家评审相结合（投票占 30%，专家评审占 70%）。",
        unit_id=ids.get(SOCIETY), co_unit_ids=(ids[BUREAU],) if BUREAU in ids else (), rules_text=ZUIMEI_RULES, position=1,
        windows={"submission": _days(now, -40, -30), "review": _days(now, -30, -25), "voting": _days(now, -25, -10),
                 "judging": _days(now, -10, -3), "publicity": _days(now, -2, 3)},
        rules={"votes_per_day": 5, "votes_per_entry_per_day": 1, "photos_min": 3, "photos_max": 6, "video_max_seconds": 60,
               "hide_counts_hours_before_close": 24},
    )
    # Two 区县's own 全民美拍, in different stages: 历下 voting, 章丘 still taking entries.
    lixia = ContestChanges(
        slug=LIXIA, kind="media", title="历下区“技能：让生活更美好”全民美拍活动", short_title="历下全民美拍", theme=THEME,
        summary="历下区的职业院校师生和市民，用镜头记录泉城老街、非遗工坊里的技能之美。", unit_id=ids.get(LIXIA_UNIT),
        rules_text="历下区教育和体育局主办，作品在本区征集、投票与评审。", position=10,
        windows={"submission": _days(now, -8, 2), "review": _days(now, -7, 3), "voting": _days(now, -2, 6),
                 "judging": _days(now, 6, 8), "publicity": _days(now, 8, 13)},
        rules={"entries_per_person": 2, "votes_per_day": 3, "votes_per_entry_per_day": 1, "captcha_mode": "risk"},
    )
    zhangqiu = ContestChanges(
        slug=ZHANGQIU, kind="media", title="章丘区“技能：让生活更美好”全民美拍活动", short_title="章丘全民美拍", theme=THEME,
        summary="章丘铁锅、明水香稻……拍下章丘手艺人和职校学生的技能瞬间。", unit_id=ids.get(ZHANGQIU_UNIT),
        rules_text="章丘区教育和体育局主办，作品在本区征集、投票与评审。", position=11,
        windows={"submission": _days(now, -2, 12), "review": _days(now, -1, 13), "voting": _days(now, 14, 20),
                 "judging": _days(now, 20, 23), "publicity": _days(now, 23, 28)},
        rules={"entries_per_person": 3, "votes_per_day": 3, "votes_per_entry_per_day": 1, "captcha_mode": "risk"},
    )
    for changes in (meipai, huangyanpei, zuimei, lixia, zhangqiu):
        changes.awarded_on = _award_day(changes)
    return [
        (meipai, "category", ("摄影作品", "短视频", "技能瞬间")),
        (huangyanpei, "track", ("创意组", "初创组", "成长组")),
        (zuimei, "category", ("中职学生", "高职学生")),
        (lixia, "category", ("摄影作品", "短视频")),
        (zhangqiu, "category", ("摄影作品", "短视频")),
    ]


INNOVATION_GROUPS = ("中职组", "高职组")


# --- entries ---------------------------------------------------------------------------

@dataclass(frozen=True)
class MediaSeed:
    title: str
    category: str
    school: str
    icon: str
    description: str


@dataclass(frozen=True)
class ProjectSeed:
    title: str
    track: str
    school: str
    icon: str
    major: str
    description: str


@dataclass(frozen=True)
class NomineeSeed:
    name: str
    gender: str
    age: int
    school: str
    major: str
    grade: str
    icon: str
    tagline: str
    reason: str
    story: str


MEDIA_ENTRIES = (
    MediaSeed("灶台前的火候", "摄影作品", "济南旅游学校", "chef",
              "烹饪专业的实训课上，同学们练习鲁菜“爆炒”的火候。锅里腾起的火焰只有一瞬，按下快门时，师傅说：火候到了，味道就对了。"),
    MediaSeed("毫厘之间", "摄影作品", "济南电子机械工程学校", "gear",
              "数控车间里，学生用千分尺检测刚加工完的轴类零件。公差只有 0.01 毫米，靠的是一遍遍的练习和一颗静下来的心。"),
    MediaSeed("给爱车做一次“体检”", "技能瞬间", "济南市技师学院", "car",
              "活动周“开放校园”日，汽车维修专业师生为市民免费检测轮胎、灯光和制动，一上午服务了四十多辆车。"),
    MediaSeed("社区里的白衣天使", "摄影作品", "济南职业学院", "cross",
              "护理专业志愿者走进社区，为老人测血压、讲解慢病用药。老人们说，这些孩子手法稳，说话也暖心。"),
    MediaSeed("直播间里的泉城好物", "短视频", "济南商贸学校", "phone",
              "电子商务专业学生在校内直播实训室为平阴玫瑰、章丘大葱带货。三分钟的短视频记录了从选品、布景到开播的全过程。"),
    MediaSeed("指尖上的鲁绣", "技能瞬间", "济南市章丘中等职业学校", "rosette",
              "鲁绣非遗工作室里，老师手把手教学生“齐针”“套针”。一幅牡丹要绣一个多月，针脚里是慢下来的时光。"),
    MediaSeed("泥土里长出的希望", "摄影作品", "商河县职业中等专业学校", "sprout",
              "现代农艺专业的学生在合作社大棚里学习水肥一体化技术，把课堂搬到了田间地头。"),
    MediaSeed("一分钟学会清洗空调滤网", "短视频", "济南市历城职业中等专业学校", "wrench",
              "家电维修专业学生拍摄的科普短视频：断电、拆网、冲洗、晾干、复位，五步让空调“呼吸”更顺畅。"),
    MediaSeed("焊花绽放", "摄影作品", "济南市钢城区职业中等专业学校", "star",
              "焊接实训车间里，面罩后是专注的眼神，飞溅的焊花像夜空里的烟火。"),
    MediaSeed("面点师的清晨", "短视频", "济阳区职业中等专业学校", "chef",
              "清晨五点半，中式面点专业的学生已经在和面、揉面、醒面。短视频记录了一笼荷花酥从面团到出笼的四个小时。"),
    MediaSeed("为老人理一次发", "技能瞬间", "平阴县职业中等专业学校", "person",
              "美发专业师生走进敬老院开展志愿服务，一上午为三十多位老人理发、修面。"),
    MediaSeed("芯片上的“绣花功夫”", "摄影作品", "莱芜职业技术学院", "chip",
              "电子产品装配实训中，学生在显微镜下焊接贴片元件，一块电路板上有上百个焊点。"),
    MediaSeed("镜头里的职教周", "短视频", "济南传媒学校", "camera",
              "传媒学校的学生跟拍活动周启动仪式和各校开放日，用镜头讲述“技能：让生活更美好”的济南故事。"),
    MediaSeed("一盏泉水茶", "摄影作品", "济南市莱芜职业中等专业学校", "cup",
              "茶艺课上，学生用泉水冲泡莱芜本地的绿茶。温杯、投茶、注水，一招一式都有讲究。"),
)

PROJECT_ENTRIES = (
    ProjectSeed("“泉城味道”预制菜研发与社区配送", "初创组", "济南旅游学校", "chef", "中餐烹饪",
                "团队把把子肉、九转大肠等鲁菜经典做成标准化预制菜，通过社区团购配送到家，已与 12 个社区建立合作。"),
    ProjectSeed("智慧大棚物联网监测系统", "成长组", "莱芜职业技术学院", "sprout", "现代农业技术",
                "自主研发低成本的温湿度、光照和土壤墒情传感器，农户用手机即可查看大棚环境并远程控制卷帘和滴灌，已在 30 多个大棚应用。"),
    ProjectSeed("新能源汽车电池健康检测服务站", "创意组", "济南市技师学院", "car", "新能源汽车检测与维修",
                "针对二手新能源车电池状况难评估的问题，设计一套快速检测流程和评估报告，为二手车交易和车主保养提供参考。"),
    ProjectSeed("“银龄守护”居家养老上门护理平台", "初创组", "济南职业学院", "cross", "护理",
                "护理专业学生在教师指导下，为社区失能、半失能老人提供上门护理、康复训练和健康档案管理服务。"),
    ProjectSeed("龙山黑陶文创工作室", "成长组", "济南市章丘中等职业学校", "rosette", "工艺美术",
                "传承章丘龙山黑陶技艺，开发茶具、香器和校园文创等 40 余款产品，线上线下销售稳步增长。"),
    ProjectSeed("精密零件小批量快速加工中心", "成长组", "济南电子机械工程学校", "gear", "数控技术应用",
                "依托学校数控实训基地，承接本地中小企业的小批量精密零件订单，学生在真实生产中提升技能。"),
    ProjectSeed("“乡村好物”直播助农团队", "初创组", "商河县职业中等专业学校", "phone", "电子商务",
                "学生主播团队为商河县的花卉、西瓜、鸡蛋等特产直播带货，帮助合作社打开线上销路。"),
    ProjectSeed("校园教材循环平台", "创意组", "济南市历城职业中等专业学校", "bulb", "计算机应用",
                "一个小程序让毕业生把教材和实训工具留给学弟学妹，按品相折价流转，减少浪费。"),
    ProjectSeed("无人机植保服务队", "初创组", "山东劳动职业技术学院", "drone", "无人机应用技术",
                "为平阴、长清等地农户提供小麦、玉米病虫害的无人机飞防服务，一个作业季完成植保面积超过 2 万亩。"),
    ProjectSeed("家电维修到家服务", "初创组", "济南市莱芜职业中等专业学校", "wrench", "家用电器维修",
                "整合师生维修力量：市民线上下单，学生在教师带领下上门维修、保养家电，收费透明。"),
    ProjectSeed("鲁式面点标准化工坊", "创意组", "济阳区职业中等专业学校", "chef", "中式面点",
                "把传统手工面点的配方和工艺整理成标准流程，为乡村餐饮店和学校食堂提供培训与半成品。"),
    ProjectSeed("工业机器人编程与运维培训", "成长组", "济南工程职业技术学院", "chip", "工业机器人技术",
                "面向本地制造企业员工开展工业机器人编程、调试与维护培训，已培训一线员工 600 余人次。"),
    ProjectSeed("平阴玫瑰深加工产品开发", "成长组", "平阴县职业中等专业学校", "rosette", "食品加工技术",
                "与本地玫瑰合作社共建实训基地，开发玫瑰花酱、玫瑰饼和纯露等产品，带动花农增收。"),
    ProjectSeed("非遗短视频工作室", "创意组", "济南传媒学校", "camera", "数字影像技术",
                "为章丘、平阴等地的非遗传承人拍摄制作短视频，帮助传统手艺被更多年轻人看见。"),
)

NOMINEES = (
    NomineeSeed("张子涵", "female", 17, "济南旅游学校", "中餐烹饪", "二年级", "chef", "灶台前的鲁菜小传人",
                "技能突出、乐于分享，带动身边同学爱上鲁菜。",
                "从小在爷爷的小饭馆里长大，张子涵最喜欢看灶台上的火苗。进入济南旅游学校后，她每天比同学早到一小时练刀工，一年切坏了三块菜墩。\n\n"
                "她在全市职业院校技能大赛中餐热菜项目中获得一等奖，如今是学校“鲁菜传承工作室”的小老师，周末还到社区教居民做家常菜。"),
    NomineeSeed("李浩然", "male", 17, "济南电子机械工程学校", "数控技术应用", "三年级", "gear", "0.01 毫米的坚持",
                "精益求精，是工匠精神的生动写照。",
                "李浩然入学时对机床一窍不通，第一次操作车床时紧张得手心出汗。他把每次加工的尺寸误差记在本子上，三年记满了七本。\n\n"
                "他在全省职业院校技能大赛数控车项目中获得二等奖；在合作企业实习期间提出的一项夹具改进建议，使一道工序的效率提高了 20%。"),
    NomineeSeed("王欣怡", "female", 20, "济南职业学院", "护理", "三年级", "cross", "病房里的微笑天使",
                "医者仁心，用专业和耐心温暖患者。",
                "实习期间，王欣怡在老年病区照护了 60 多位患者。她发现不少老人看不清药盒上的小字，便自己设计了大字版用药提示卡，被科室推广使用。\n\n"
                "课余时间，她组织护理志愿服务队走进 8 个社区，开展健康讲座和急救培训 40 余场，累计志愿服务超过 300 小时。"),
    NomineeSeed("刘志强", "male", 18, "济南市技师学院", "汽车维修", "高级工二年级", "car", "从“门外汉”到技能冠军",
                "技能成才、自强不息的榜样。",
                "初中毕业时成绩不理想的刘志强，曾经觉得自己“没什么出息”。在技师学院，他第一次发现自己对发动机有说不完的兴趣。\n\n"
                "经过两年的集训，他在全市技能大赛汽车技术项目中夺得第一名，获评“济南市技术能手”。他说：“技能让我找到了自信。”"),
    NomineeSeed("陈雨桐", "female", 17, "济南商贸学校", "电子商务", "二年级", "phone", "直播间里的助农小主播",
                "学以致用，用新技能助力乡村振兴。",
                "去年秋天，陈雨桐跟着老师来到商河的一家合作社，看到成堆的西瓜卖不出去，她决定试试直播带货。\n\n"
                "她和同学们一起选品、写脚本、搭场景，三场直播卖出了 8000 多斤西瓜。现在她把经验整理成一本小册子，分享给学弟学妹。"),
    NomineeSeed("赵一鸣", "male", 20, "济南工程职业技术学院", "工业机器人技术", "三年级", "chip", "让机器人“听懂”指令的人",
                "钻研技术，在真实项目中解决企业难题。",
                "赵一鸣痴迷于工业机器人编程，在实训室一待就是一整天。他带领团队为合作企业开发了一套码垛机器人视觉定位程序，解决了来料位置不准的问题。\n\n"
                "他获得全国职业院校技能大赛工业机器人技术应用赛项三等奖，已被一家智能制造企业提前录用。"),
    NomineeSeed("孙悦", "female", 16, "济南市章丘中等职业学校", "工艺美术", "一年级", "rosette", "剪纸里的章丘故事",
                "传承非遗，让传统手艺焕发新意。",
                "孙悦的奶奶是当地有名的剪纸艺人，她从小就拿着剪刀跟着学。入学后，她把学到的设计知识用到剪纸里，创作了以章丘大葱、百脉泉为题材的系列作品。\n\n"
                "她的作品在全市“济南手造”展示活动中展出。活动周期间，她走进小学，为孩子们上了 12 节剪纸体验课。"),
    NomineeSeed("周航", "male", 21, "莱芜职业技术学院", "现代农业技术", "三年级", "sprout", "把论文写在大地上",
                "扎根乡村，用所学回报家乡。",
                "周航来自莱芜的一个小山村。学习现代农业技术后，他回到家乡帮生姜种植户改良种植方式，引入水肥一体化和病虫害绿色防控技术。\n\n"
                "合作的 50 多户农户平均每亩增收 1200 元。他说，毕业后还要回到村里，做一名新农人。"),
    NomineeSeed("吴佳琪", "female", 17, "济南传媒学校", "播音与节目主持", "二年级", "camera", "用镜头讲述职教故事",
                "用作品传播职业教育的正能量。",
                "吴佳琪是学校融媒体中心的骨干，采访拍摄了 30 多位职校毕业生和技能大师，制作的系列短视频《技能人生》在网上获得数十万次播放。\n\n"
                "她说：“我想让更多人看见，职业教育同样可以出彩。”"),
    NomineeSeed("郑凯", "male", 18, "济南市钢城区职业中等专业学校", "焊接技术应用", "三年级", "star", "焊花中淬炼的青春",
                "吃苦耐劳，在平凡岗位上追求卓越。",
                "焊接实训车间的夏天气温超过 40 摄氏度，郑凯每天坚持练习 6 个小时，手臂上留下了不少烫伤的疤痕。\n\n"
                "功夫不负有心人，他在全省职业院校技能大赛焊接项目中获得一等奖，入选省集训队，备战更高级别的比赛。"),
    NomineeSeed("马晓彤", "female", 17, "平阴县职业中等专业学校", "幼儿保育", "二年级", "person", "孩子们的“晓彤姐姐”",
                "爱心满满，长期陪伴乡村留守儿童。",
                "马晓彤性格开朗，会弹琴、会讲故事。在幼儿园见习期间，她为一个不爱说话的小朋友专门设计了绘本游戏，让孩子慢慢打开了心扉。\n\n"
                "她是学校“七彩课堂”志愿队的队长，两年来每个周末都到乡村留守儿童之家陪孩子们学习。"),
    NomineeSeed("冯宇轩", "male", 20, "山东劳动职业技术学院", "建筑工程技术", "三年级", "bulb", "用“数字孪生”看见建筑",
                "技术创新，乐于传帮带。",
                "冯宇轩是学校 BIM 技术社团的社长。他带领社团为学校新建的实训楼建立三维信息模型，在施工前发现了 20 多处管线碰撞问题。\n\n"
                "他获得全省职业院校技能大赛建筑工程识图赛项一等奖，并利用课余时间为中职学校的学弟学妹开设 BIM 入门课。"),
    NomineeSeed("韩梦洁", "female", 16, "商河县职业中等专业学校", "茶艺与茶营销", "一年级", "cup", "一盏茶里的匠心",
                "专注执着，把传统文化带进社区。",
                "韩梦洁在茶艺课上第一次接触到茶文化，便被其中的礼仪与讲究深深吸引。她每天练习冲泡手法，手腕酸了就用冷水敷一敷。\n\n"
                "她在全市职业院校技能大赛茶艺项目中获得一等奖，活动周期间还为社区居民举办了三场茶艺体验活动。"),
    NomineeSeed("杨晨", "male", 17, "济阳区职业中等专业学校", "机电技术应用", "二年级", "wrench", "村里的“小电工”",
                "用技能服务乡亲，志愿服务两年不间断。",
                "杨晨所在的村子老人多，家里的电器坏了常常没人修。从一年级开始，他每个周末都背着工具包走家串户，免费为乡亲们维修电器、检查线路。\n\n"
                "两年来他上门服务 200 多次，被乡亲们亲切地称为“小电工”，事迹被当地电视台报道。"),
)

# Team members get made-up names; the two lists are coprime in length so names rarely repeat.
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
GIVEN_NAMES = (
    "子轩", "浩宇", "欣然", "一诺", "思远", "雨萱", "宇航", "梓涵", "俊杰", "佳怡", "博文", "诗琪", "明轩",
    "可欣", "天佑", "晨曦", "嘉怡", "泽宇", "雅婷", "志豪", "若溪", "文博", "心怡", "振华", "书瑶", "昊然", "静怡",
)
ADVISOR_GIVEN_NAMES = ("建军", "红梅", "立新", "秀英", "国强", "丽华", "卫东", "春燕")

# Videos: every 短视频 entry of 全民美拍 is a video alone (its poster frame is its cover);
# this nominee has a short video after her photos, and these 黄炎培 teams their pitch video
# after their cover. Each clip adds about a second to the build, so only a few have one.
VIDEO_CATEGORY = "短视频"
NOMINEES_WITH_VIDEO = frozenset({"吴佳琪"})
# Her school did not tick 公开照片: the public pages show the placeholder instead of her photos.
NOMINEES_PHOTOS_PRIVATE = frozenset({"孙悦"})
PROJECTS_WITH_PITCH = frozenset({"智慧大棚物联网监测系统", "非遗短视频工作室"})
# The clips' tones, one per clip in turn (a pentatonic scale, so no two sound harsh).
TONES = (523.25, 587.33, 659.25, 783.99, 880.0)

SECONDARY_CAPTIONS = {
    "media": ("拍摄现场", "作品细节"),
    "innovation": ("项目路演", "团队在一起"),
    "selection": ("实训风采", "成长足迹"),
}


# --- the entry point ---------------------------------------------------------------------

@dataclass
class DemoPeople:
    organiser: User
    citizens: list[User]
    judges: list[User] = field(default_factory=list)
    organisers: list[User] = field(default_factory=list)
    contacts: dict[str, User] = field(default_factory=dict)  # school name -> its contact
    reused: int = 0


def seed_demo(
    session: SessionLike, storage: Storage, settings: Settings, now: datetime, *, reset: bool = False, echo: Echo = print,
) -> None:
    """Seed the Activity Week: schools, accounts, the three contests and their entries with images."""
    started = time.monotonic()
    # A demo seeded under earlier slugs is found by its mark, so a reset replaces it too.
    existing = [c for c in contests.list_contests(session, include_unpublished=True) if c.slug in DEMO_SLUGS or c.is_demo]
    if existing and not reset:
        echo("The demo data is already there (" + ", ".join(f"/c/{c.slug}" for c in existing)
             + "); run `flask demo --reset` to seed it again.")
        return
    # Found before anything is written, so a missing font leaves the database untouched.
    painter = PosterPainter(discover_cjk_font(settings.font_path))
    if existing:
        echo(f"Removing {len(existing)} existing demo contest(s)…")
        _remove_contests(session, storage, existing, now)

    echo(f"[1/{STEPS}] schools…")
    schools = _seed_schools(session, now)
    echo(f"[2/{STEPS}] accounts…")
    people = _seed_people(session, schools, now)
    session.commit()
    echo(f"[3/{STEPS}] contests…")
    seeded = _seed_contests(session, now)
    session.commit()
    echo(f"[4/{STEPS}] entries and images…")
    _seed_entries(session, storage, painter, seeded, schools, people, now, echo)
    echo(f"[5/{STEPS}] judging rounds and scores…")
    seed_judging(session, seeded, people.judges, schools, now)
    session.commit()
    echo(f"[6/{STEPS}] votes, the sealed ledger and the 最美职校生 results in 公示…")
    seed_votes_and_results(session, seeded, people.citizens, people.organisers, storage, now)
    session.commit()
    echo(f"[7/{STEPS}] done in {time.monotonic() - started:.1f} s.")
    _print_summary(echo, people)


# --- removing --------------------------------------------------------------------------

def _remove_contests(session: SessionLike, storage: Storage, existing: list[Contest], now: datetime) -> None:
    ids = [c.id for c in existing]
    entry_ids = select(Entry.id).where(Entry.contest_id.in_(ids))
    items = session.scalars(select(MediaItem).where(MediaItem.entry_id.in_(entry_ids))).all()
    keys = {key for item in items for key in item.stored_keys()}
    for contest in existing:
        audit.record(session, actor=SYSTEM, action="contest.delete", target_type="contest", target_id=contest.id,
                     now=now, before={"slug": contest.slug, "title": contest.title}, summary=f"demo reset: {contest.title}")
    session.execute(delete(MediaItem).where(MediaItem.entry_id.in_(entry_ids)))
    # Categories, entries, nominees and team members go with the contest (ON DELETE CASCADE).
    session.execute(delete(Contest).where(Contest.id.in_(ids)))
    session.commit()
    session.expunge_all()
    # Files go only after the commit, and only if no other row still points at them.
    for key in keys - _referenced_keys(session, keys):
        storage.delete(key)


def _referenced_keys(session: SessionLike, keys: set[str]) -> set[str]:
    if not keys:
        return set()
    columns = (MediaItem.original_key, MediaItem.display_key, MediaItem.thumb_key, MediaItem.poster_key,
               MediaItem.playback_key, MediaItem.w400_key, MediaItem.w800_key, MediaItem.w1600_key)
    rows = session.execute(select(*columns).where(or_(*(column.in_(keys) for column in columns))))
    return {key for row in rows for key in row} & keys


# --- schools and accounts -------------------------------------------------------------

def _seed_schools(session: SessionLike, now: datetime) -> dict[str, School]:
    known = {school.name: school for school in contests.list_schools(session)}
    for name, district, level, enrolment in SCHOOLS:
        if name not in known:
            known[name] = contests.save_school(session, actor=SYSTEM, school=None, name=name, district=district,
                                               level=level, enrolment=enrolment, now=now)
    return known


def _seed_people(session: SessionLike, schools: dict[str, School], now: datetime) -> DemoPeople:
    users: dict[str, User] = {}
    demo_units = _seed_units(session, now)
    reused = 0
    for account in demo_accounts():
        user = accounts.find_user_by_phone(session, account.phone)
        if user is None:
            user = accounts.create_user(session, phone=account.phone, password=account.password,
                                        roles=list(account.roles), now=now, display_name=account.name)
        else:
            reused += 1
        users[account.phone] = user
        for unit_name, role in STAFF_UNITS.get(account.phone, ()):
            units.add_member(session, actor=SYSTEM, unit=demo_units[unit_name], user=user, role=role, now=now)
        if account.school:
            _link_contact(session, user, schools[account.school])
    people = DemoPeople(
        organiser=users[STAFF[1].phone],
        citizens=[users[f"139000000{1 + i:02d}"] for i in range(len(CITIZEN_NAMES))],
        contacts={school: users[f"138000000{21 + i}"] for i, (_name, school) in enumerate(CONTACTS)},
        judges=[users[f"138000000{11 + i}"] for i in range(len(JUDGE_NAMES))],
        organisers=[users[STAFF[1].phone], users[STAFF[2].phone]],
        reused=reused,
    )
    return people


def _link_contact(session: SessionLike, user: User, school: School) -> None:
    linked = session.scalar(select(SchoolContact.id).where(SchoolContact.user_id == user.id,
                                                           SchoolContact.school_id == school.id))
    if linked is None:
        session.add(SchoolContact(user_id=user.id, school_id=school.id))
        session.flush()


# --- contests ---------------------------------------------------------------------------

def _seed_units(session: SessionLike, now: datetime) -> dict[str, OrganisingUnit]:
    """The demo's organising units (kept when they exist, as an operator may have renamed nothing)."""
    known = {u.name: u for u in units.list_units(session)}
    for position, (name, level, district) in enumerate(DEMO_UNITS):
        if name not in known:
            known[name] = units.save_unit(session, actor=SYSTEM, unit=None, name=name, level=level, district=district, now=now)
            known[name].position = position
    return known


def _seed_contests(session: SessionLike, now: datetime) -> dict[str, Contest]:
    seeded = {}
    unit_ids = {name: unit.id for name, unit in _seed_units(session, now).items()}
    for changes, kind, names in contest_changes(now, unit_ids):
        contest = contests.create_contest(session, actor=SYSTEM, changes=changes, now=now)
        for name in names:
            contests.add_category(session, actor=SYSTEM, contest=contest, kind=kind, name=name, now=now)
        if contest.kind == "innovation":
            for name in INNOVATION_GROUPS:
                contests.add_category(session, actor=SYSTEM, contest=contest, kind="group", name=name, now=now)
        contest.is_demo = True
        seeded[contest.slug] = contest
    return seeded


def _category(contest: Contest, kind: str, name: str) -> Category:
    return next(c for c in contest.categories_of(kind) if c.name == name)


# --- entries -----------------------------------------------------------------------------

@dataclass
class EntryWriter:
    """Creates approved entries with their pictures and videos, and reports progress."""

    session: SessionLike
    storage: Storage
    painter: PosterPainter
    now: datetime
    echo: Echo
    total: int
    clip_maker: clips.ClipMaker
    done: int = 0
    # Videos ordered from the clip maker and not yet attached: (entry, role, position).
    waiting: list[tuple[Entry, str, int]] = field(default_factory=list)

    def add(self, contest: Contest, *, title: str, description: str, school: School, submitter: User,
            category: Category, published_at: datetime, icon: str, group: Category | None = None,
            pictures: bool = True, video_role: str = "") -> Entry:
        """An approved entry with one to three pictures (unless `pictures` is false) and,
        when `video_role` is given ("video" or "pitch"), a short video after them."""
        submitted_at = published_at - timedelta(hours=6 + self.done % 4 * 5)
        entry = Entry(
            contest_id=contest.id, category_id=category.id, group_id=group.id if group else None,
            school_id=school.id, submitted_by_id=submitter.id, title=title, description=description,
            status="approved", created_at=submitted_at - timedelta(hours=3), updated_at=published_at,
            submitted_at=submitted_at, published_at=published_at,
        )
        self.session.add(entry)
        self.session.flush()
        count = self._attach_pictures(contest, entry, school, category, icon) if pictures else 0
        if video_role:
            self._order_video(contest, entry, school, category, icon, role=video_role, position=count)
        self.done += 1
        if self.done % 5 == 0 or self.done == self.total:
            self.echo(f"      {self.done}/{self.total} entries")
        return entry

    def _attach_pictures(self, contest: Contest, entry: Entry, school: School, category: Category, icon: str) -> int:
        # One to three pictures per entry: enough to show galleries and detail pages
        # without making the demo slow to seed.
        count = (1, 2, 1, 3)[self.done % 4]
        label = f"{contest.short_title} · {category.name}"
        cover = self.painter.poster(kind=contest.kind, variant=self.done, icon=icon, heading=entry.title,
                                    subtitle=school.name, label=label)
        media.attach_image(self.session, self.storage, entry=entry, image=cover, now=self.now, position=0,
                           caption="", alt_text=f"{entry.title}（{school.name}）")
        captions = SECONDARY_CAPTIONS[contest.kind]
        for position in range(1, count):
            caption = captions[position - 1]
            picture = self.painter.poster(kind=contest.kind, variant=self.done + position, icon=_other_icon(icon, position),
                                          heading=caption, subtitle=entry.title, label=f"{label} · {school.name}")
            media.attach_image(self.session, self.storage, entry=entry, image=picture, now=self.now,
                               position=position, caption=caption, alt_text=f"{entry.title}：{caption}")
        return count

    def _order_video(self, contest: Contest, entry: Entry, school: School, category: Category, icon: str, *,
                     role: str, position: int) -> None:
        # The clip is encoded while the next entries' pictures are painted; attach_videos
        # waits for it.
        label = f"{contest.short_title} · {'路演视频' if role == 'pitch' else category.name}"
        background, text = self.painter.title_card(kind=contest.kind, variant=self.done, icon=icon, heading=entry.title,
                                                   subtitle=school.name, label=label, frame=clips.FRAME)
        self.clip_maker.order(entry.id, background, text, contest=contest, tone=TONES[self.done % len(TONES)])
        self.waiting.append((entry, role, position))

    def attach_videos(self) -> None:
        """Attach the videos ordered so far to their entries (waiting for the last ones)."""
        for entry, role, position in self.waiting:
            self.clip_maker.attach(self.session, self.storage, entry.id, entry=entry, now=self.now, role=role, position=position)
        self.waiting.clear()


def _other_icon(icon: str, step: int) -> str:
    names = list(ICONS)
    return names[(names.index(icon) + 3 * step) % len(names)]


def _publish_times(first: datetime, last: datetime, count: int) -> list[datetime]:
    """Evenly staggered moments between first and last, nudged off the hour so lists look real."""
    span = (last - first) / max(count - 1, 1)
    return [first + span * i + timedelta(minutes=(i * 37) % 50) for i in range(count)]


def _seed_entries(session: SessionLike, storage: Storage, painter: PosterPainter, seeded: dict[str, Contest],
                  schools: dict[str, School], people: DemoPeople, now: datetime, echo: Echo) -> None:
    total = len(MEDIA_ENTRIES) + len(PROJECT_ENTRIES) + len(NOMINEES) + 4
    with clips.ClipMaker() as maker:
        writer = EntryWriter(session, storage, painter, now, echo, total, maker)
        _seed_media_entries(writer, seeded[MEIPAI], schools, people, now)
        writer.attach_videos()
        session.commit()
        _seed_projects(writer, seeded[HUANGYANPEI], schools, people, now)
        writer.attach_videos()
        session.commit()
        _seed_nominees(writer, seeded[ZUIMEI], schools, people, now)
        writer.attach_videos()
        session.commit()
        _seed_district_entries(writer, seeded[LIXIA], schools, people, now)
        session.commit()


def _submitter(people: DemoPeople, school: School) -> User:
    # Schools without a contact account had their entries keyed in by the organiser.
    return people.contacts.get(school.name, people.organiser)


def _seed_media_entries(writer: EntryWriter, contest: Contest, schools: dict[str, School], people: DemoPeople,
                        now: datetime) -> None:
    times = _publish_times(now - timedelta(days=9), now - timedelta(hours=2), len(MEDIA_ENTRIES))
    for i, seed in enumerate(MEDIA_ENTRIES):
        writer.add(contest, title=seed.title, description=seed.description, school=schools[seed.school],
                   submitter=people.citizens[i % len(people.citizens)],
                   category=_category(contest, "category", seed.category), published_at=times[i], icon=seed.icon,
                   pictures=seed.category != VIDEO_CATEGORY, video_role="video" if seed.category == VIDEO_CATEGORY else "")


def _seed_district_entries(writer: EntryWriter, contest: Contest, schools: dict[str, School], people: DemoPeople,
                           now: datetime) -> None:
    """历下区's own 全民美拍, voting: a few photos of the district's schools."""
    photos = [seed for seed in MEDIA_ENTRIES if seed.category != VIDEO_CATEGORY and schools[seed.school].district == "历下区"]
    photos = (photos or [seed for seed in MEDIA_ENTRIES if seed.category != VIDEO_CATEGORY])[:4]
    times = _publish_times(now - timedelta(days=6), now - timedelta(hours=3), len(photos))
    for i, seed in enumerate(photos):
        writer.add(contest, title=seed.title, description=seed.description, school=schools[seed.school],
                   submitter=people.citizens[(i + 5) % len(people.citizens)],
                   category=_category(contest, "category", "摄影作品"), published_at=times[i], icon=seed.icon,
                   pictures=True, video_role="")


def _seed_projects(writer: EntryWriter, contest: Contest, schools: dict[str, School], people: DemoPeople,
                   now: datetime) -> None:
    times = _publish_times(now - timedelta(days=15), now - timedelta(days=10, hours=2), len(PROJECT_ENTRIES))
    for i, seed in enumerate(PROJECT_ENTRIES):
        school = schools[seed.school]
        group = _category(contest, "group", "高职组" if school.level == "高职" else "中职组")
        entry = writer.add(contest, title=seed.title, description=seed.description, school=school,
                           submitter=_submitter(people, school), category=_category(contest, "track", seed.track),
                           group=group, published_at=times[i], icon=seed.icon,
                           video_role="pitch" if seed.title in PROJECTS_WITH_PITCH else "")
        entry.team_members.extend(_team(contest, school, seed.major, i))
    writer.session.flush()


def _team(contest: Contest, school: School, major: str, index: int) -> list[TeamMember]:
    students = 3 + index % 3
    advisors = 1 + index % 2
    members = []
    for k in range(students):
        name = SURNAMES[(index * 5 + k * 3) % len(SURNAMES)] + GIVEN_NAMES[(index * 7 + k * 4) % len(GIVEN_NAMES)]
        members.append(TeamMember(
            contest_id=contest.id, role="leader" if k == 0 else "member", name=name,
            student_no=f"S{contest.created_at.year}{school.id:02d}{index:02d}{k}", school_id=school.id, major=major, position=k,
        ))
    for k in range(advisors):
        name = SURNAMES[(index * 3 + k * 11 + 7) % len(SURNAMES)] + ADVISOR_GIVEN_NAMES[(index + k * 3) % len(ADVISOR_GIVEN_NAMES)]
        members.append(TeamMember(contest_id=contest.id, role="advisor", name=name, school_id=school.id,
                                  major=major, position=students + k))
    return members


def _seed_nominees(writer: EntryWriter, contest: Contest, schools: dict[str, School], people: DemoPeople,
                   now: datetime) -> None:
    times = _publish_times(now - timedelta(days=29, hours=20), now - timedelta(days=25, hours=6), len(NOMINEES))
    for i, seed in enumerate(NOMINEES):
        school = schools[seed.school]
        stage = "高职学生" if school.level == "高职" else "中职学生"
        entry = writer.add(contest, title=f"{seed.name}：{seed.tagline}", description=f"推荐理由：{seed.reason}",
                           school=school, submitter=_submitter(people, school),
                           category=_category(contest, "category", stage), published_at=times[i], icon=seed.icon,
                           video_role="video" if seed.name in NOMINEES_WITH_VIDEO else "")
        entry.nominee = NomineeProfile(
            name=seed.name, gender=seed.gender, birth_date=_birth_date(now, seed.age, i), major=seed.major,
            grade=seed.grade, story=seed.story, guardian_consent=seed.age < 18,
            public_fields={"photo": seed.name not in NOMINEES_PHOTOS_PRIVATE, "school": True, "major": True, "story": True,
                           "name": "full"},
        )
        if seed.age < 18:
            # The consent form as the platform prints it stands in for the guardian's signed copy.
            choices = consent_form.Choices.of(entry.nominee.public_fields)
            form = consent_form.template_pdf(contest_title=contest.title, school=school.name, nominee=seed.name,
                                             choices=choices)
            consent_form.attach_signed_form(writer.session, writer.storage, entry, (form, "cpdf"),
                                            name="监护人同意书.pdf", now=entry.created_at)
    writer.session.flush()


def _birth_date(now: datetime, age: int, index: int) -> date:
    # A birthday 1–6 months past, so `age` is the nominee's age today and minors stay minors.
    return now.date() - timedelta(days=round(365.25 * age) + 30 + index * 11)


# --- the summary ---------------------------------------------------------------------------

def _print_summary(echo: Echo, people: DemoPeople) -> None:
    rows = [("admin + organiser", STAFF[0].phone, STAFF[0].password),
            ("organiser", STAFF[1].phone, STAFF[1].password),
            ("organiser (2nd confirmer)", STAFF[2].phone, STAFF[2].password),
            ("历下区 unit admin", STAFF[3].phone, STAFF[3].password),
            ("章丘区 unit admin", STAFF[4].phone, STAFF[4].password),
            ("judge", "13800000011 … 13800000017", JUDGE_PASSWORD)]
    rows += [("school contact", f"138000000{21 + i}", f"{CONTACT_PASSWORD:<14}{school}")
             for i, (_name, school) in enumerate(CONTACTS)]
    rows.append(("citizen", "13900000001 … 13900000020", CITIZEN_PASSWORD))
    echo("")
    # The school goes last: wide Chinese characters would break the columns' alignment.
    echo(f"{'role':<28}{'phone':<28}{'password':<14}school")
    for role, phone, password in rows:
        echo(f"{role:<28}{phone:<28}{password}")
    if people.reused:
        echo(f"({people.reused} account(s) already existed and kept their own password and roles.)")
    echo("")
    echo("Contests:")
    for slug in (MEIPAI, ZUIMEI, HUANGYANPEI, LIXIA, ZHANGQIU):
        echo(f"  /c/{slug}")


# --- pictures ---------------------------------------------------------------------------

Color = tuple[int, int, int]
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)

# Gradients per contest kind: warm for the citizens' photo contest, blue-green for
# innovation, festive red for the student selection. Dark enough for white text.
PALETTES: dict[str, tuple[tuple[Color, Color], ...]] = {
    "media": (((236, 110, 56), (196, 40, 104)), ((232, 128, 30), (214, 58, 84)), ((226, 120, 70), (150, 52, 138))),
    "innovation": (((28, 60, 150), (0, 140, 160)), ((22, 42, 110), (52, 104, 210)), ((0, 84, 130), (0, 150, 122))),
    "selection": (((176, 28, 44), (228, 112, 36)), ((140, 20, 64), (212, 60, 60)), ((110, 40, 140), (208, 66, 104))),
}
SIZE = (1600, 1000)
CARD = (1600, 900)  # a video's title card: the posters' layout on a 16:9 canvas
TEXT_LEFT, TEXT_WIDTH = 110, 700
BADGE_AT = (880, 190)


class PosterPainter:
    """Draws the demo's pictures: a gradient, a simple icon, the title in Chinese and the school."""

    def __init__(self, font_path: str) -> None:
        self._font_path = font_path

    def font(self, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        return cjk_font(self._font_path, size, bold)

    def poster(self, *, kind: str, variant: int, icon: str, heading: str, subtitle: str, label: str) -> Image.Image:
        palettes = PALETTES[kind]
        start, end = palettes[variant % len(palettes)]
        rng = random.Random(f"{kind}:{heading}:{subtitle}")  # nosec B311
        canvas = _gradient(start, end).copy()
        canvas.alpha_composite(_bubbles(rng))
        canvas.alpha_composite(_badge(icon, _darker(start)), dest=BADGE_AT)
        image = canvas.convert("RGB")
        draw = ImageDraw.Draw(image, "RGBA")
        self._label(draw, label)
        y = self._heading(draw, heading)
        self._subtitle(draw, subtitle, y + 36)
        draw.text((TEXT_LEFT, 890), f"{WEEK} · {THEME}", font=self.font(30), fill=(255, 255, 255, 215))
        return image

    def title_card(self, *, kind: str, variant: int, icon: str, heading: str, subtitle: str, label: str,
                   frame: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
        """A video's title card as two pictures of `frame` size: the background (gradient,
        bubbles, icon) and a transparent layer with the text, which the clip animates.
        Laid out as the posters are, on a 16:9 canvas."""
        palettes = PALETTES[kind]
        start, end = palettes[variant % len(palettes)]
        rng = random.Random(f"{kind}:{heading}:{subtitle}:video")  # nosec B311
        box = (0, 0, *CARD)
        background = _gradient(start, end).crop(box)
        background.alpha_composite(_bubbles(rng).crop(box))
        background.alpha_composite(_badge(icon, _darker(start)), dest=BADGE_AT)
        # Transparent white, so the edges of the white letters stay white when blended.
        text = Image.new("RGBA", CARD, (255, 255, 255, 0))
        draw = ImageDraw.Draw(text)
        self._label(draw, label)
        y = self._heading(draw, heading)
        self._subtitle(draw, subtitle, y + 36)
        draw.text((TEXT_LEFT, CARD[1] - 80), f"{WEEK} · {THEME}", font=self.font(30), fill=(255, 255, 255, 215))
        resample = Image.Resampling.LANCZOS
        return background.convert("RGB").resize(frame, resample), text.resize(frame, resample)

    def _label(self, draw: ImageDraw.ImageDraw, label: str) -> None:
        font = self.font(32)
        width = min(font.getlength(label), 1300)
        draw.rounded_rectangle((TEXT_LEFT - 24, 92, TEXT_LEFT + width + 24, 150), radius=29, fill=(255, 255, 255, 56))
        draw.text((TEXT_LEFT, 121), label, font=font, fill=WHITE, anchor="lm")

    def _heading(self, draw: ImageDraw.ImageDraw, text: str) -> int:
        for size in (96, 88, 80, 72, 64):
            font = self.font(size, bold=True)
            lines = wrap_text(text, font, TEXT_WIDTH)
            if len(lines) <= 3:
                break
        y = 210
        for line in lines:
            draw.text((TEXT_LEFT + 3, y + 4), line, font=font, fill=(0, 0, 0, 70))
            draw.text((TEXT_LEFT, y), line, font=font, fill=WHITE)
            y += int(size * 1.3)
        return y

    def _subtitle(self, draw: ImageDraw.ImageDraw, text: str, y: int) -> None:
        draw.rectangle((TEXT_LEFT, y, TEXT_LEFT + 90, y + 8), fill=(255, 255, 255, 230))
        font = self.font(44)
        for line in wrap_text(text, font, TEXT_WIDTH)[:2]:
            y += 66
            draw.text((TEXT_LEFT, y - 30), line, font=font, fill=(255, 255, 255, 235))


def _darker(color: Color, factor: float = 0.7) -> tuple[int, int, int, int]:
    red, green, blue = color
    return int(red * factor), int(green * factor), int(blue * factor), 255


@lru_cache(maxsize=16)
def _gradient(start: Color, end: Color) -> Image.Image:
    vertical = Image.linear_gradient("L")
    # Blending the vertical ramp with its quarter turn gives a top-left to bottom-right diagonal.
    mask = Image.blend(vertical, vertical.rotate(90), 0.5).resize(SIZE, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGBA", SIZE, (*end, 255)), Image.new("RGBA", SIZE, (*start, 255)), mask)


def _bubbles(rng: random.Random) -> Image.Image:
    layer = Image.new("RGBA", SIZE, CLEAR)
    draw = ImageDraw.Draw(layer)
    for _ in range(7):
        x, y, r = rng.randint(0, SIZE[0]), rng.randint(0, SIZE[1]), rng.randint(60, 220)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, rng.randint(14, 34)))
    for _ in range(3):
        x, y, r = rng.randint(0, SIZE[0]), rng.randint(0, SIZE[1]), rng.randint(80, 260)
        draw.ellipse((x - r, y - r, x + r, y + r), outline=(255, 255, 255, 50), width=6)
    return layer


def _badge(icon: str, accent: tuple[int, int, int, int]) -> Image.Image:
    badge = Image.new("RGBA", (600, 600), CLEAR)
    draw = ImageDraw.Draw(badge)
    draw.ellipse((0, 0, 600, 600), fill=(255, 255, 255, 46))
    draw.ellipse((36, 36, 564, 564), fill=(255, 255, 255, 40))
    glyph = Image.new("RGBA", (600, 600), CLEAR)
    ICONS[icon](glyph, accent)
    shadow = Image.new("RGBA", (600, 600), (0, 0, 0, 255))
    shadow.putalpha(glyph.getchannel("A").point(lambda a: a * 35 // 100))
    badge.alpha_composite(shadow, dest=(10, 14))
    badge.alpha_composite(glyph)
    return badge


# Icons are drawn on a transparent 600×600 layer in white, with the palette's dark
# colour for details; drawing CLEAR cuts holes through to the badge behind.

def _polar(cx: float, cy: float, r: float, degrees: float) -> tuple[float, float]:
    return cx + r * math.cos(math.radians(degrees)), cy + r * math.sin(math.radians(degrees))


def _icon_gear(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    for tooth in range(10):
        a = tooth * 36
        draw.polygon([_polar(300, 300, 170, a - 12), _polar(300, 300, 240, a - 7),
                      _polar(300, 300, 240, a + 7), _polar(300, 300, 170, a + 12)], fill=WHITE)
    draw.ellipse((110, 110, 490, 490), fill=WHITE)
    draw.ellipse((190, 190, 410, 410), fill=accent)
    draw.ellipse((240, 240, 360, 360), fill=CLEAR)


def _icon_camera(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    draw.rounded_rectangle((210, 130, 390, 220), radius=24, fill=WHITE)
    draw.rounded_rectangle((80, 180, 520, 470), radius=48, fill=WHITE)
    draw.ellipse((185, 210, 415, 440), fill=accent)
    draw.ellipse((220, 245, 380, 405), fill=WHITE)
    draw.ellipse((255, 280, 345, 370), fill=accent)
    draw.rounded_rectangle((420, 210, 480, 245), radius=10, fill=accent)


def _icon_bulb(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    for a in range(200, 341, 35):
        draw.line([_polar(300, 250, 185, a), _polar(300, 250, 245, a)], fill=WHITE, width=18)
    draw.ellipse((185, 135, 415, 365), fill=WHITE)
    draw.polygon([(222, 320), (378, 320), (352, 420), (248, 420)], fill=WHITE)
    draw.rounded_rectangle((245, 430, 355, 460), radius=12, fill=WHITE)
    draw.rounded_rectangle((262, 470, 338, 500), radius=12, fill=WHITE)
    draw.line([(265, 330), (285, 280), (300, 320), (315, 280), (335, 330)], fill=accent, width=10, joint="curve")


def _icon_wrench(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    upright = Image.new("RGBA", (600, 600), CLEAR)
    draw = ImageDraw.Draw(upright)
    draw.rounded_rectangle((262, 190, 338, 540), radius=38, fill=WHITE)
    draw.ellipse((190, 50, 410, 270), fill=WHITE)
    draw.rectangle((262, 30, 338, 150), fill=CLEAR)
    draw.ellipse((282, 480, 318, 516), fill=accent)
    layer.alpha_composite(upright.rotate(-45, resample=Image.Resampling.BICUBIC))


def _icon_chef(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    for cx, cy, r in ((200, 250, 95), (300, 190, 110), (400, 250, 95)):
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=WHITE)
    draw.rectangle((190, 250, 410, 420), fill=WHITE)
    draw.rounded_rectangle((180, 430, 420, 500), radius=14, fill=WHITE)
    for x in (245, 300, 355):
        draw.line([(x, 330), (x, 415)], fill=accent, width=8)


def _icon_person(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    draw.ellipse((220, 90, 380, 250), fill=WHITE)
    draw.chord((130, 280, 470, 620), 180, 360, fill=WHITE)
    draw.rounded_rectangle((130, 430, 470, 500), radius=20, fill=WHITE)
    draw.polygon([(300, 300), (275, 330), (300, 420), (325, 330)], fill=accent)


def _icon_cross(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    draw.rounded_rectangle((235, 110, 365, 490), radius=30, fill=WHITE)
    draw.rounded_rectangle((110, 235, 490, 365), radius=30, fill=WHITE)
    draw.ellipse((262, 262, 338, 338), fill=accent)


def _icon_phone(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    draw.rounded_rectangle((180, 80, 400, 520), radius=42, fill=WHITE)
    draw.rounded_rectangle((205, 130, 375, 450), radius=12, fill=accent)
    draw.polygon([(265, 235), (265, 345), (345, 290)], fill=WHITE)
    draw.ellipse((270, 470, 310, 500), fill=accent)
    for x, y, r in ((450, 200, 26), (480, 290, 18), (440, 370, 22)):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=WHITE)


def _icon_car(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    draw.polygon([(165, 300), (220, 185), (385, 185), (450, 300)], fill=WHITE)
    draw.rounded_rectangle((75, 285, 525, 420), radius=46, fill=WHITE)
    draw.polygon([(200, 290), (238, 210), (292, 210), (292, 290)], fill=accent)
    draw.polygon([(312, 290), (312, 210), (372, 210), (415, 290)], fill=accent)
    for cx in (180, 420):
        draw.ellipse((cx - 62, 358, cx + 62, 482), fill=accent)
        draw.ellipse((cx - 30, 390, cx + 30, 450), fill=WHITE)


def _leaf(start: tuple[float, float], end: tuple[float, float], width: float) -> list[tuple[float, float]]:
    """A lens-shaped leaf from start to end."""
    (x0, y0), (x1, y1) = start, end
    length = math.hypot(x1 - x0, y1 - y0)
    nx, ny = -(y1 - y0) / length, (x1 - x0) / length
    steps = [i / 16 for i in range(17)]
    side = [(x0 + (x1 - x0) * t + nx * width * math.sin(math.pi * t), y0 + (y1 - y0) * t + ny * width * math.sin(math.pi * t))
            for t in steps]
    other = [(x0 + (x1 - x0) * t - nx * width * math.sin(math.pi * t), y0 + (y1 - y0) * t - ny * width * math.sin(math.pi * t))
             for t in reversed(steps)]
    return side + other


def _icon_sprout(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    draw.line([(300, 500), (300, 250)], fill=WHITE, width=24)
    draw.polygon(_leaf((300, 340), (120, 210), 62), fill=WHITE)
    draw.polygon(_leaf((300, 270), (480, 130), 72), fill=WHITE)
    draw.line([(300, 340), (175, 250)], fill=accent, width=6)
    draw.line([(300, 270), (425, 172)], fill=accent, width=6)
    draw.rounded_rectangle((160, 490, 440, 530), radius=20, fill=WHITE)


def _icon_play(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    draw.ellipse((100, 100, 500, 500), fill=WHITE)
    draw.polygon([(250, 190), (250, 410), (420, 300)], fill=accent)


def _star_points(cx: float, cy: float, outer: float, inner: float, points: int = 5) -> list[tuple[float, float]]:
    return [_polar(cx, cy, outer if i % 2 == 0 else inner, -90 + i * 180 / points) for i in range(points * 2)]


def _icon_star(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    draw.polygon(_star_points(300, 320, 230, 95), fill=WHITE)
    draw.polygon(_star_points(300, 320, 90, 38), fill=accent)
    for cx, cy, r in ((110, 130, 46), (490, 140, 36), (500, 470, 30)):
        draw.polygon(_star_points(cx, cy, r, r / 4, 4), fill=WHITE)


def _icon_chip(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    for offset in (215, 265, 315, 365):
        draw.line([(offset + 10, 100), (offset + 10, 500)], fill=WHITE, width=18)
        draw.line([(100, offset + 10), (500, offset + 10)], fill=WHITE, width=18)
    draw.rounded_rectangle((160, 160, 440, 440), radius=28, fill=WHITE)
    draw.rounded_rectangle((215, 215, 385, 385), radius=14, fill=accent)
    draw.ellipse((180, 180, 205, 205), fill=accent)


def _icon_rosette(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    for petal in range(8):
        cx, cy = _polar(300, 300, 135, petal * 45)
        draw.ellipse((cx - 82, cy - 82, cx + 82, cy + 82), fill=WHITE)
    draw.ellipse((195, 195, 405, 405), fill=accent)
    draw.polygon(_star_points(300, 300, 90, 40, 8), fill=WHITE)


def _icon_cup(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    for x in (230, 300, 370):
        wave = [(x + 18 * math.sin(t / 3), 120 + t * 10) for t in range(12)]
        draw.line(wave, fill=WHITE, width=14, joint="curve")
    draw.ellipse((370, 290, 490, 410), outline=WHITE, width=28)
    draw.chord((140, 150, 420, 470), 0, 180, fill=WHITE)
    draw.rectangle((140, 280, 420, 312), fill=WHITE)
    draw.rectangle((170, 300, 390, 316), fill=accent)
    draw.rounded_rectangle((100, 480, 500, 515), radius=18, fill=WHITE)


def _icon_drone(layer: Image.Image, accent: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(layer)
    for cx, cy in ((150, 170), (450, 170), (150, 430), (450, 430)):
        draw.line([(300, 300), (cx, cy)], fill=WHITE, width=26)
        draw.ellipse((cx - 95, cy - 28, cx + 95, cy + 28), fill=WHITE)
        draw.ellipse((cx - 16, cy - 16, cx + 16, cy + 16), fill=accent)
    draw.rounded_rectangle((220, 240, 380, 360), radius=36, fill=WHITE)
    draw.ellipse((272, 272, 328, 328), fill=accent)


ICONS: dict[str, Callable[[Image.Image, tuple[int, int, int, int]], None]] = {
    "gear": _icon_gear, "camera": _icon_camera, "bulb": _icon_bulb, "wrench": _icon_wrench, "chef": _icon_chef,
    "person": _icon_person, "cross": _icon_cross, "phone": _icon_phone, "car": _icon_car, "sprout": _icon_sprout,
    "play": _icon_play, "star": _icon_star, "chip": _icon_chip, "rosette": _icon_rosette, "cup": _icon_cup,
    "drone": _icon_drone,
}
