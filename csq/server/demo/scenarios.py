"""What customers call about: subjects and bodies for every kind and category.

Taken from the scenarios of the five handbooks behind csq (power utility,
courier, logistics, telecom, property management), mostly in Chinese with some
English callers, so the demo queue reads like a real centre's and every
category label, filter and report has something to show.

Placeholders such as `{waybill}` are filled per item from one set of values,
so a subject and its body agree on the same waybill, amount or address.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from csq.domain.kinds import CATEGORIES, Channel, Kind
from csq.domain.priority import Priority


class Sector(StrEnum):
    POWER = "power"  # 供电
    COURIER = "courier"  # 快递
    LOGISTICS = "logistics"  # 物流
    TELECOM = "telecom"  # 通信
    PROPERTY = "property"  # 物业


@dataclass(frozen=True)
class Scenario:
    kind: Kind
    category: str
    sector: Sector
    subject: str
    body: str
    lang: str = "zh"
    priority: Priority | None = None  # None: the domain's default for the customer
    tags: tuple[str, ...] = ()

    def fill(self, rng: random.Random) -> tuple[str, str]:
        """Subject and body with one shared set of placeholder values."""
        slots = _Slots(rng)
        return self.subject.format_map(slots)[:200], self.body.format_map(slots)


T, C, CB = Kind.TICKET, Kind.COMPLAINT, Kind.CALLBACK
P, K, L, TEL, PM = (Sector.POWER, Sector.COURIER, Sector.LOGISTICS, Sector.TELECOM,
                    Sector.PROPERTY)
URGENT = Priority.P1  # 重大 / 抢险
INFO = Priority.P4

SCENARIOS: tuple[Scenario, ...] = (
    # -- tickets: 咨询 inquiry ---------------------------------------------------------
    Scenario(T, "inquiry", P, "咨询峰谷分时电价怎么办理",
             "您好,我家想办理峰谷分时电价,请问需要带什么材料、去哪个营业厅?户号 {account}。"),
    Scenario(T, "inquiry", TEL, "咨询 5G 套餐升级和合约期",
             "现在用的是{plan},想换 5G 套餐,合约期还没到,能不能升级?会不会有违约金?"),
    Scenario(T, "inquiry", K, "寄往香港的文件需要什么手续",
             "明天要寄一份合同到香港,请问需要报关吗?大概几天能到,费用多少?"),
    Scenario(T, "inquiry", PM, "咨询装修申请流程和押金",
             "{community}{building}号楼{unit}单元{room}室准备装修,请问要交哪些材料、押金多少、"
             "施工时间有什么规定?"),
    Scenario(T, "inquiry", L, "大件家具配送范围咨询",
             "网上买了一套沙发,请问能不能送到{city_to}郊区?送货上楼收不收费?"),
    Scenario(T, "inquiry", TEL, "Roaming charges for a trip to Japan",
             "I'm travelling to Tokyo next week for ten days. Which roaming pack do you "
             "recommend and how do I turn it on?", lang="en"),
    Scenario(T, "inquiry", P, "How do I switch to the time-of-use tariff?",
             "Hello, I'd like to move our flat to the peak/off-peak tariff. Account {account}. "
             "What do I need to bring?", lang="en"),
    # -- 查询 query -----------------------------------------------------------------------
    Scenario(T, "query", P, "本月电费比上月高出 {amount} 元,要求查明原因",
             "户号 {account},上个月电费一百多,这个月突然多了 {amount} 元,家里用电没变化,"
             "怀疑电表有问题,请帮忙查一下抄表读数。"),
    Scenario(T, "query", TEL, "查询话费账单明细,有不明扣费",
             "尾号 {phone4} 的账单里有一笔 {amount} 元的增值业务费,我没订过,请查一下是什么业务。"),
    Scenario(T, "query", K, "快递 {waybill} 三天没有物流更新",
             "单号 {waybill},物流信息一直停在{city_from}转运中心,已经三天没动了,请帮忙查一下。"),
    Scenario(T, "query", L, "查询整车货物到达时间",
             "我们发往{city_to}的整车货物(运单 {waybill})原定昨天到,客户一直在催,请告知预计到达时间。"),
    Scenario(T, "query", PM, "查询物业费缴纳记录和发票",
             "{building}号楼{room}室,想查一下今年物业费是否已经交清,需要开电子发票。"),
    Scenario(T, "query", K, "Where is my parcel {waybill}?",
             "Tracking for {waybill} has said 'in transit' for four days. Could you tell me "
             "where it actually is?", lang="en"),
    Scenario(T, "query", TEL, "Question about this month's phone bill",
             "My bill is {amount} yuan higher than usual. Could you send me an itemised "
             "breakdown?", lang="en"),
    # -- 报修 repair ----------------------------------------------------------------------
    Scenario(T, "repair", P, "{community}{building}号楼整栋停电",
             "{community}{building}号楼从{hour}点开始整栋楼没电,楼道灯也不亮,家里有老人,请尽快派人抢修!",
             priority=URGENT, tags=("抢险",)),
    Scenario(T, "repair", P, "电表箱冒烟有焦糊味",
             "{building}号楼一楼电表箱有焦糊味,还有一点冒烟,已经让邻居别靠近,请马上派人来。",
             priority=URGENT, tags=("抢险",)),
    Scenario(T, "repair", P, "家里跳闸后无法合闸",
             "家里总闸跳了以后一直合不上,邻居家都有电,请派电工上门看看。地址:{addr}。"),
    Scenario(T, "repair", PM, "{building}号楼电梯困人",
             "{building}号楼{unit}单元电梯停在{floor}楼附近,里面有两个人被困,按了紧急呼叫没人应答!",
             priority=URGENT, tags=("抢险",)),
    Scenario(T, "repair", PM, "卫生间天花板漏水,疑似楼上渗水",
             "{room}室卫生间天花板一直滴水,墙面已经发霉,怀疑楼上防水坏了,请安排师傅上门查看。"),
    Scenario(T, "repair", PM, "地下车库闸机不抬杆",
             "地下车库 B2 出口闸机不识别车牌,已经排了五六辆车,请赶紧派人处理。"),
    Scenario(T, "repair", TEL, "光猫红灯闪烁,宽带无法上网",
             "家里宽带从昨晚开始上不了网,光猫 LOS 灯红色闪烁,重启好几次都没用,宽带账号 {account}。"),
    Scenario(T, "repair", TEL, "小区室内手机信号差",
             "{community}这边室内基本没有信号,打电话要跑到阳台,4G/5G 都不行,希望来测一下信号。"),
    Scenario(T, "repair", PM, "Water leaking from the ceiling",
             "Water is dripping from our bathroom ceiling in flat {room}, building {building}. "
             "Probably from the flat upstairs. Please send someone.", lang="en"),
    Scenario(T, "repair", P, "Power cut on our street",
             "Our whole street lost power about an hour ago ({en_addr}). Is it a planned "
             "outage? When will it be back?", lang="en", priority=URGENT, tags=("抢险",)),
    # -- 业务受理 request -------------------------------------------------------------------
    Scenario(T, "request", P, "申请电费户名过户",
             "房子已经过户,需要把电费户名从原房主改成我,户号 {account},房产证和身份证都准备好了。"),
    Scenario(T, "request", P, "申请居民用电增容至 {kw} kW",
             "家里装了电动车充电桩,原来的容量不够,申请增容到 {kw} 千瓦。地址:{addr}。"),
    Scenario(T, "request", TEL, "办理携号转网",
             "想把号码携转到你们公司,请问需要什么条件?原运营商合约要不要先解除?"),
    Scenario(T, "request", TEL, "申请停机保号三个月",
             "出国工作三个月,申请号码停机保号,回国后再恢复。"),
    Scenario(T, "request", K, "预约明天上午上门取件",
             "明天上午 9 点到 12 点,{addr},有三个箱子寄到{city_to},请安排快递员上门取件。"),
    Scenario(T, "request", K, "修改收件地址",
             "单号 {waybill} 的收件地址写错了,请改为{addr}。"),
    Scenario(T, "request", PM, "申请临时停车位",
             "家里来客人住一周,想申请一个地面临时车位,车牌京A·{plate}。"),
    Scenario(T, "request", L, "申请开通月结账户",
             "我们公司每月发货大概 {count} 票,希望开通月结账户,请安排业务经理联系。"),
    Scenario(T, "request", TEL, "Port my number to your network",
             "I'd like to port my number to you and take the 5G plan. What documents do I "
             "need as a foreign resident?", lang="en"),
    Scenario(T, "request", K, "Schedule a pickup tomorrow morning",
             "Please collect two boxes from {en_addr} tomorrow between 9 and 12. "
             "Destination: {city_to}.", lang="en"),
    # -- 报价 quote -------------------------------------------------------------------------
    Scenario(T, "quote", TEL, "企业专线 100M 报价",
             "我们公司在{addr},需要一条 100M 企业专线,固定 IP,请报价,包括安装费和月租。"),
    Scenario(T, "quote", L, "整车运输报价:{city_from}至{city_to}",
             "每周有两车货从{city_from}发往{city_to},每车约 {tons} 吨,请提供整车运输报价和时效。"),
    Scenario(T, "quote", P, "新装充电桩接电费用报价",
             "小区车位想装一个 7kW 充电桩,请报一下接电费用和办理周期。"),
    Scenario(T, "quote", PM, "外墙清洗和空调支架更换报价",
             "业委会想做一次外墙清洗,顺便更换锈蚀的空调支架,请物业出一个报价方案。"),
    Scenario(T, "quote", K, "月寄 {count} 件的协议价",
             "我们是网店,每月大约寄 {count} 件,主要发江浙沪,想谈一下协议价。"),
    Scenario(T, "quote", L, "Quote for a monthly freight contract",
             "We ship about {count} pallets a month from {city_from} to {city_to}. Please "
             "quote a monthly contract rate.", lang="en"),
    # -- 建议 suggestion --------------------------------------------------------------------
    Scenario(T, "suggestion", P, "建议 APP 增加停电范围地图",
             "停电时不知道是只有我家还是整个片区,建议 APP 增加停电范围地图和预计恢复时间。",
             priority=INFO),
    Scenario(T, "suggestion", K, "建议快递柜增加大格口",
             "小区快递柜大格口太少,稍微大一点的包裹就放不进去,建议增加大格口。", priority=INFO),
    Scenario(T, "suggestion", PM, "建议小区增设电动车充电桩",
             "小区电动车越来越多,很多人飞线充电很危险,建议在车棚增设充电桩。", priority=INFO),
    Scenario(T, "suggestion", TEL, "建议营业厅延长周末营业时间",
             "上班族只有周末有空,营业厅周末下午四点就关门,建议延长到晚上八点。", priority=INFO),
    Scenario(T, "suggestion", K, "Suggestion: English option for delivery SMS",
             "The delivery notice SMS is only in Chinese. An English option would help "
             "foreign residents a lot.", lang="en", priority=INFO),
    # -- complaints: 产品质量 product ----------------------------------------------------------
    Scenario(C, "product", P, "电压不稳烧坏家电,要求赔偿",
             "这周连续三次电压忽高忽低,家里冰箱和电视都烧坏了,邻居家也一样,要求查明原因并赔偿损失。",
             tags=("赔偿",)),
    Scenario(C, "product", P, "新换的智能电表走字明显偏快",
             "上个月换了新电表以后,电费一下子涨了快一倍,用电习惯完全没变,要求校验电表。"),
    Scenario(C, "product", TEL, "宽带频繁掉线,报修三次未解决",
             "宽带每天晚上都掉线好几次,已经报修三次,师傅来了说没问题就走了,问题一直没解决。",
             tags=("重复来电",)),
    Scenario(C, "product", K, "包裹内瓷器破损,要求理赔",
             "单号 {waybill},寄的是一套景德镇瓷器,收到时箱子被压扁,碎了三个,要求理赔。",
             tags=("赔偿",)),
    Scenario(C, "product", PM, "维修后水管再次漏水",
             "上周物业修了厨房水管,今天又开始漏,把楼下天花板也泡了,维修质量太差。"),
    Scenario(C, "product", K, "Parcel arrived damaged",
             "My parcel {waybill} arrived crushed and the laptop inside has a cracked screen. "
             "I'd like to file a claim.", lang="en", tags=("赔偿",)),
    # -- 服务态度 service -------------------------------------------------------------------
    Scenario(C, "service", K, "快递员态度恶劣,未经同意放门口",
             "快递员没打电话就把包裹放在门口,丢了以后打电话给他,他还说'放门口是惯例',态度非常差。"),
    Scenario(C, "service", TEL, "营业厅工作人员推诿",
             "去营业厅办销户,工作人员说要去另一个营业厅,那边又让我回来,来回跑了三趟。"),
    Scenario(C, "service", P, "客服热线等待超过 10 分钟",
             "打 95598 等了十多分钟没人接,好不容易接通了,客服说查不到就挂了。"),
    Scenario(C, "service", PM, "保安态度蛮横",
             "晚上回小区没带门卡,保安不让进,还出言不逊,要求物业处理并道歉。"),
    Scenario(C, "service", L, "司机卸货时与客户争吵",
             "送货司机说卸货上楼要另外加钱,和我们仓库的人吵起来,最后货也没卸完就走了。"),
    Scenario(C, "service", K, "Courier threw my parcel over the gate",
             "The courier threw my parcel over the gate instead of ringing the bell. This is "
             "unacceptable.", lang="en"),
    # -- 流程规范 process -------------------------------------------------------------------
    Scenario(C, "process", P, "计划停电未提前通知",
             "昨天整个小区停电八个小时,事先没有任何通知,冰箱里的东西全坏了,停电不是应该提前公告吗?"),
    Scenario(C, "process", TEL, "未经同意开通增值业务并扣费 {amount} 元",
             "我从来没订过什么视频会员,每个月却扣 {amount} 元,已经扣了半年,要求全额退款。",
             tags=("12345转办",)),
    Scenario(C, "process", PM, "物业费重复收取",
             "今年的物业费已经在 APP 上交过了,物业又上门催缴,说系统里没有记录,要求核实。"),
    Scenario(C, "process", L, "理赔流程拖延一个多月",
             "货物丢失申请理赔已经一个多月,每次打电话都说在审核,没人给个准话。"),
    Scenario(C, "process", TEL, "Billed twice for the same month",
             "I was charged twice for {month_en}. I have the bank statement. Please refund the "
             "duplicate charge.", lang="en"),
    # -- 物流延误 delivery -----------------------------------------------------------------
    Scenario(C, "delivery", K, "承诺次日达,已延误 {days} 天",
             "单号 {waybill},下单时承诺次日达,现在已经第 {days} 天还没到,里面是急用的药品。"),
    Scenario(C, "delivery", K, "显示已签收但本人未收到",
             "单号 {waybill} 物流显示已签收,可我一直在家,根本没收到,也没人打电话。"),
    Scenario(C, "delivery", L, "生鲜冷链延误导致变质",
             "从{city_from}发来的海鲜,冷链运输延误了一天半,到货时已经变质,损失 {amount} 元。",
             tags=("赔偿",)),
    Scenario(C, "delivery", L, "大件家具配送延期三次",
             "沙发约了三次送货,每次都临时说不来,已经请了三天假了。"),
    Scenario(C, "delivery", K, "Parcel {waybill} lost",
             "Parcel {waybill} has been 'out for delivery' for a week. I think it is lost. "
             "Please investigate.", lang="en"),
    # -- callbacks: 售后回访 after_resolution ------------------------------------------------
    Scenario(CB, "after_resolution", P, "停电抢修后回访",
             "{community}停电抢修已完成,回访确认供电是否恢复正常、有无家电损坏。"),
    Scenario(CB, "after_resolution", PM, "漏水维修完成后回访",
             "{room}室漏水维修完成三天,回访确认是否还有渗水。"),
    Scenario(CB, "after_resolution", TEL, "宽带故障修复后回访",
             "宽带账号 {account} 故障已修复,回访确认网络是否稳定。"),
    Scenario(CB, "after_resolution", K, "Follow-up after a damaged-parcel claim",
             "The claim for {waybill} has been paid. Call to confirm the customer received "
             "the compensation.", lang="en"),
    # -- 定期回访 scheduled -----------------------------------------------------------------
    Scenario(CB, "scheduled", P, "新装用户一周内首次沟通",
             "新装户号 {account},按规定一周内与客户沟通用电情况和缴费方式。"),
    Scenario(CB, "scheduled", L, "大客户季度回访",
             "季度大客户回访:了解近三个月发货量、时效满意度和新的运输需求。"),
    Scenario(CB, "scheduled", TEL, "合约到期前续约回访",
             "客户的{plan}合约下月到期,回访续约意向。"),
    Scenario(CB, "scheduled", PM, "电梯年检后业主回访",
             "{building}号楼电梯年检完成,回访业主使用情况。"),
    Scenario(CB, "scheduled", TEL, "Contract renewal call",
             "The customer's {plan_en} contract ends next month. Call about renewal options.",
             lang="en"),
    # -- 满意度调查 survey ----------------------------------------------------------------
    Scenario(CB, "survey", P, "年度供电服务满意度调查",
             "按年度计划开展供电服务满意度电话调查,共五个问题,控制在三分钟内。", priority=INFO),
    Scenario(CB, "survey", K, "快递服务满意度调查",
             "近一个月寄件三次以上的客户,抽样调查派送时效和快递员服务。", priority=INFO),
    Scenario(CB, "survey", PM, "物业服务季度满意度问卷",
             "季度物业满意度调查:保洁、安保、维修响应三项打分。", priority=INFO),
    Scenario(CB, "survey", K, "Delivery satisfaction survey",
             "Short survey (three questions) about recent deliveries; the customer prefers "
             "English.", lang="en", priority=INFO),
)

# Channels customers use for each category; the first is the most common.
CHANNELS: dict[str, tuple[Channel, ...]] = {
    "inquiry": (Channel.PHONE, Channel.CHAT, Channel.WEB, Channel.EMAIL),
    "query": (Channel.PHONE, Channel.CHAT, Channel.SMS, Channel.WEB, Channel.EMAIL),
    "repair": (Channel.PHONE, Channel.PHONE, Channel.CHAT, Channel.WEB),
    "request": (Channel.PHONE, Channel.VISIT, Channel.WEB, Channel.EMAIL),
    "quote": (Channel.EMAIL, Channel.PHONE, Channel.WEB),
    "suggestion": (Channel.WEB, Channel.LETTER, Channel.EMAIL, Channel.SMS),
    "product": (Channel.PHONE, Channel.VISIT, Channel.WEB),
    "service": (Channel.PHONE, Channel.LETTER, Channel.VISIT),
    "process": (Channel.PHONE, Channel.LETTER, Channel.EMAIL, Channel.WEB),
    "delivery": (Channel.PHONE, Channel.CHAT, Channel.WEB),
    "after_resolution": (Channel.PHONE,),
    "scheduled": (Channel.PHONE,),
    "survey": (Channel.PHONE, Channel.SMS),
}


def pick(rng: random.Random, kind: Kind, category: str, lang: str) -> Scenario:
    """A scenario of this kind and category, in the customer's language when we have one."""
    matching = [s for s in SCENARIOS if s.kind == kind and s.category == category]
    spoken = [s for s in matching if s.lang == lang]
    return rng.choice(spoken or matching)


def channel_for(rng: random.Random, category: str) -> Channel:
    options = CHANNELS[category]
    return options[0] if rng.random() < 0.5 else rng.choice(options)


def missing_categories() -> list[tuple[Kind, str]]:
    """Kind/category pairs with no scenario (empty: every label has demo data)."""
    have = {(s.kind, s.category) for s in SCENARIOS}
    return [(k, c) for k, cats in CATEGORIES.items() for c in cats if (k, c) not in have]


# -- placeholder values -------------------------------------------------------------------

CITIES = ("北京", "上海", "广州", "深圳", "成都", "杭州", "武汉", "西安", "南京", "重庆", "苏州")
CITIES_EN = ("Beijing", "Shanghai", "Guangzhou", "Shenzhen", "Chengdu", "Hangzhou")
COMMUNITIES = ("望京西园三区", "阳光上东", "万科城市花园", "金地格林小镇", "翠湖天地", "保利海德公园",
               "融侨锦江", "龙湖香醍溪岸", "芳草苑", "和平里七区")
COMMUNITIES_EN = ("Sunshine Garden", "Riverside Court", "Green Lake Villas", "Park Avenue")
ROADS = ("建国路", "中山北路", "解放大道", "天府大道", "人民路", "科技园南路", "长江路")
PLANS = ("畅享 129 元套餐", "5G 智享 199 元套餐", "全家享 99 元融合套餐", "大流量 59 元卡")
PLANS_EN = ("5G Unlimited 199", "Family Share 99", "Data Plus 59")
MONTHS_EN = ("March", "April", "May", "June", "September", "October")
CARRIERS = ("SF", "YT", "ZTO", "JD", "EMS", "STO")


def _address(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return (f"{rng.choice(CITIES)}{rng.choice(COMMUNITIES)}{rng.randint(1, 20)}号楼"
                f"{rng.randint(1, 4)}单元{rng.randint(2, 28)}{rng.randint(1, 4):02d}室")
    return f"{rng.choice(CITIES)}{rng.choice(ROADS)}{rng.randint(1, 300)}号{rng.randint(2, 30)}层"


_MAKERS: dict[str, Callable[[random.Random], object]] = {
    "account": lambda r: f"{r.randint(31, 39)}{r.randrange(10**8):08d}",
    "waybill": lambda r: f"{r.choice(CARRIERS)}{r.randrange(10**12):012d}",
    "amount": lambda r: f"{r.uniform(18, 680):.2f}",
    "days": lambda r: r.randint(2, 6),
    "kw": lambda r: r.choice((8, 10, 12, 16)),
    "count": lambda r: r.choice((80, 150, 300, 500, 1200)),
    "tons": lambda r: r.choice((8, 12, 18, 25)),
    "floor": lambda r: r.randint(3, 26),
    "hour": lambda r: r.randint(7, 20),
    "phone4": lambda r: f"{r.randrange(10**4):04d}",
    "plan": lambda r: r.choice(PLANS),
    "plan_en": lambda r: r.choice(PLANS_EN),
    "month_en": lambda r: r.choice(MONTHS_EN),
    "plate": lambda r: "".join(r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(5)),
    "community": lambda r: r.choice(COMMUNITIES),
    "building": lambda r: r.randint(1, 20),
    "unit": lambda r: r.randint(1, 4),
    "room": lambda r: f"{r.randint(2, 28)}{r.randint(1, 4):02d}",
    "addr": _address,
    "en_addr": lambda r: (f"Flat {r.randint(2, 28)}{r.randint(1, 4):02d}, Building "
                          f"{r.randint(1, 20)}, {r.choice(COMMUNITIES_EN)}, {r.choice(CITIES_EN)}"),
}


class _Slots(dict[str, object]):
    """Makes each placeholder's value on first use; `city_to` never equals `city_from`."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng

    def __missing__(self, key: str) -> object:
        if key in ("city_from", "city_to"):
            first, second = self.rng.sample(CITIES, 2)
            self.setdefault("city_from", first)
            self.setdefault("city_to", second)
            return self[key]
        value = _MAKERS[key](self.rng)
        self[key] = value
        return value
