"""What the staff write: replies, internal notes (中途意见), reasons, departments.

Kept apart from the customers' scenarios because both the seed and the live
simulator use them, and because they follow the handbooks' scripts (answer
with a time, never leave a promise open, record every callback in full).
"""

from __future__ import annotations

import random

from csq.server.demo.scenarios import Sector

REPLIES: dict[Sector, tuple[str, ...]] = {
    Sector.POWER: (
        "您好,抢修人员已出发,预计 40 分钟内到达现场,请注意用电安全,不要靠近电表箱。",
        "已核对抄表数据,本月读数正常,电费增加主要是空调用电增多,明细已发送到您手机。",
        "已安排计量中心上门校验电表,校验结果 3 个工作日内告知您。",
        "经核实为线路检修计划停电,预计今天 18:00 前恢复供电,给您带来不便深表歉意。",
        "您的业务已受理,工作人员将在 2 个工作日内与您联系现场勘查。",
    ),
    Sector.COURIER: (
        "已联系转运中心核实,包裹已重新安排派送,预计明天中午前送达。",
        "理赔申请已受理,请通过短信链接上传外包装和物品破损照片。",
        "已通知网点主管对快递员进行批评教育,并安排专人今天送件上门。",
        "地址已修改成功,派送员会在送达前电话联系您。",
    ),
    Sector.LOGISTICS: (
        "货物目前在分拨中心,已加急处理,预计明天上午送达。",
        "报价方案已发送至您的邮箱,有效期 15 天,如有疑问请随时联系。",
        "已协调仓储中心重新预约配送,明天 14:00–16:00 送货上门。",
    ),
    Sector.TELECOM: (
        "已为您退订该增值业务,多扣的费用将在下个账期返还。",
        "已派单给装维师傅,今天下午 2 点到 4 点上门,请保持电话畅通。",
        "已为您办理套餐变更,次月 1 日生效,变更短信稍后发送。",
        "已提交信号优化需求,网络维护中心将在 5 个工作日内到小区测试。",
    ),
    Sector.PROPERTY: (
        "维修师傅今天下午上门,请家里留人,上门前会电话联系。",
        "已通知电梯维保单位,15 分钟内到场,请被困人员保持冷静,不要扒门。",
        "已核实缴费记录,您今年物业费已交清,电子发票已发送到邮箱。",
        "已安排工程部排查楼上防水,排查结果明天告知您。",
    ),
}
REPLIES_EN: tuple[str, ...] = (
    "Thank you for calling. A technician is on the way and will phone you within the hour.",
    "We have checked your account: the duplicate charge will be refunded within 3–5 "
    "working days.",
    "Sorry for the trouble. The parcel has been located and will be delivered tomorrow "
    "before noon.",
    "Your request has been registered; our engineer will contact you within two working days.",
)

NOTES: tuple[str, ...] = (
    "客户情绪激动,已安抚,承诺今天内回电。",
    "已电话联系网点主管核实情况,等待反馈。",
    "客户第二次来电催办。",
    "中途意见:建议给予补偿 50 元,请值班长审批。",
    "客户要求书面答复,已登记邮寄地址。",
    "查询历史工单,同一问题本月第二次报修。",
    "已与部门负责人沟通,对方承诺明天 12:00 前给出处理意见。",
    "客户是老年人,听力不好,请说话慢一点、声音大一点。",
    "Customer prefers English; call after 6 pm.",
    "Checked with the depot: the van broke down yesterday, deliveries delayed.",
)
PENDING_REASONS: tuple[str, ...] = (
    "等待客户提供电表照片。",
    "等待客户提供身份证复印件和房产证明。",
    "等待客户确认上门时间。",
    "已发送报价,等待客户确认。",
    "Waiting for the customer to send photos of the damage.",
)
RESOLVED_REASONS: tuple[str, ...] = (
    "已上门处理,客户确认恢复正常。",
    "已按客户要求办理完成。",
    "报价已发送客户邮箱,客户表示收到。",
    "已解释清楚,客户无其他疑问。",
    "Handled on the phone; the customer confirmed it works now.",
)
CLOSE_REASONS: tuple[str, ...] = ("客户确认无其他问题,关闭工单。", "三天内无反馈,按规定关闭。")
REOPEN_REASONS: tuple[str, ...] = ("客户来电反映问题再次出现。", "客户表示上次处理不彻底。")
PROGRESS_REASONS: tuple[str, ...] = ("部门已开始调查处理。", "已安排现场核实。")

CALLBACK_SATISFIED: tuple[str, ...] = (
    "客户表示问题已解决,对处理结果满意。",
    "客户满意,建议以后停电能提前通知。",
    "客户对上门师傅的服务表示感谢。",
    "The customer is happy with the outcome and thanked the team.",
)
CALLBACK_UNSATISFIED: tuple[str, ...] = (
    "客户对赔偿金额不满意,要求上级处理。",
    "客户表示问题仍然存在,要求重新处理。",
    "客户认为处理太慢,不满意。",
    "The customer says the problem is back and wants someone to visit again.",
)
ATTEMPT_NOTES: tuple[str, ...] = (
    "无人接听。", "用户关机。", "客户正在开会,约下午再打。", "No answer; left a voicemail.",
)
WAIVE_REASONS: tuple[str, ...] = (
    "客户明确表示不需要回访。",
    "号码已停机,三次联系未果。",
    "客户已到营业厅当面确认,无需回访。",
    "The customer asked not to be called again.",
)
ESCALATE_TO: tuple[str, ...] = ("客服中心主任", "分管副总经理", "品质管理部")
ESCALATE_REASONS: tuple[str, ...] = (
    "重大投诉:客户已向 12345 市民热线反映。",
    "客户表示将向媒体曝光。",
    "涉及人身安全隐患,需领导督办。",
    "同一客户一周内第三次投诉。",
)
ASSIGN_NOTES: tuple[str, ...] = (
    "请跟进,客户下午三点后方便接电话。",
    "你熟悉这个小区,交给你处理。",
    "英文客户,请用英文跟进。",
    "交接班转办,详见中途意见。",
)
CALLBACK_NOTES: tuple[str, ...] = ("按客户约定时间回访。", "处理完成后回访确认。")
# 服务质量投诉: the lead's verdict (an internal note), and why the customer withdrew.
QUALITY_VERDICTS: tuple[str, ...] = (
    "核实录音:客服语气生硬,已约谈并批评教育。",
    "核实录音:客服解释不清,安排业务培训。",
)
WITHDRAW_REASONS: tuple[str, ...] = (
    "值班长已向客户致歉,客户表示谅解,撤销投诉。",
    "客户接受解释与道歉,同意撤诉。",
)

DEPARTMENTS: dict[Sector, tuple[str, ...]] = {
    Sector.POWER: ("抢修班组", "营销部", "计量中心", "城东供电所"),
    Sector.COURIER: ("朝阳营业部", "理赔组", "派送中心"),
    Sector.LOGISTICS: ("干线运输部", "仓储中心", "理赔组"),
    Sector.TELECOM: ("网络维护中心", "计费中心", "渠道管理部"),
    Sector.PROPERTY: ("工程部", "客服部", "秩序维护部", "保洁部"),
}
TAGS: tuple[str, ...] = ("催办", "重复来电", "媒体关注", "12345转办", "赔偿")


def reply(rng: random.Random, sector: Sector, lang: str) -> str:
    return rng.choice(REPLIES_EN if lang == "en" else REPLIES[sector])


def one(rng: random.Random, options: tuple[str, ...]) -> str:
    return rng.choice(options)
