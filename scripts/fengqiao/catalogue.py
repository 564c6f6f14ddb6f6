"""The metric catalogue: every figure of metrics.json, as data.

Like :data:`fengqiao.errors.CATALOGUE` for findings, this is the one place a
metric is named. The titles and units the CLI and the site print, the keys a
config may set a target for, the figures the county ranks, the renderer's
grouping, the breakdowns each optional figure is carried by, the rules the
contract checker applies and the JSON Schema's descriptions all read it, so a
metric cannot be added, renamed or redefined in one place and forgotten in
another (``tests/test_catalogue.py`` fails when the engine computes a figure
the catalogue lacks, or the other way round).

The Chinese sentences restate DOMAIN.md section 4 with its section 4.1
corrections. Where this version of the engine still computes a figure the
older way, ``interim`` says how, and the JSON Schema states both, so a
consumer reads what the file actually holds. In the sentences, 统计期内 means
the window ``[period.start, min(period.end, as_of)]`` and 截止日 means
``as_of``.

Ground floor of the imports, like ``errors``: nothing from the package and
nothing heavy, so ``config`` and the renderer can import it without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: how a reader thinks of the figure (DOMAIN.md): a number of things, a
#: proportion, a length of time, or counts split by category
Kind = Literal["count", "rate", "days", "mix"]
#: how metrics.json writes it: an integer, {numerator, denominator, value},
#: {count, previous, change}, an object of counts, or a plain number
Shape = Literal["count", "rate", "change", "mix", "number"]

#: the one tab every workbook has; a figure that needs any other tab is null
#: ("—", never 0) when that tab or a needed column is missing
REQUIRED_TAB = "disputes"
#: the breakdowns every dispute figure is computed for
DISPUTE_BREAKDOWNS = ("village", "grid", "dispute_type", "source")
#: the accountability views (DOMAIN.md 4.2): some figures per 责任单位 and per 包案领导
ACCOUNTABILITY_BREAKDOWNS = ("unit", "leader")
#: optional columns of the required tab (``warnIfMissing: false`` in
#: sheets_schema/disputes.yml): a figure that needs one is null when the
#: sheet has no such column, like a figure of an optional tab
OPTIONAL_COLUMNS = ("disputes.assigned_date", "disputes.initial_level",
                    "disputes.feedback_date", "disputes.mediation_force")

_CLOSED = "统计期内办结的纠纷件数"
_RECEIVED = "统计期内受理的纠纷件数"
_DATES = ("disputes.received_date", "disputes.status", "disputes.closed_date")
_YOY = ("count 是本期的数，previous 是上年同一时段的数；上年同一时段开始于台账起始日之前时，"
        "previous 为 null（台账分不清没有和没登记），不是 0。")
#: a dispute figure also shown per 责任单位 and per 包案领导
_ACC = (*DISPUTE_BREAKDOWNS, *ACCOUNTABILITY_BREAKDOWNS)


@dataclass(frozen=True)
class Metric:
    """One figure of metrics.json.

    ``numerator`` is what is counted (for a count, a mix or a median, what
    the figure is); ``denominator`` is empty unless the figure is a ratio.
    ``needs`` names the ``tab.field`` columns (sheets_schema/ ids) the
    engine reads for it today. ``denominator_is`` / ``numerator_is`` name
    the count that part always equals, which the contract checker enforces;
    ``may_exceed_one`` marks ratios whose numerator is not a part of their
    denominator.
    """

    id: str
    title: str
    kind: Kind
    shape: Shape
    unit: str
    numerator: str
    denominator: str = ""
    needs: tuple[str, ...] = ()
    #: the key under ``targets:`` (fengqiao.yml, county.yml) that sets its floor
    target_key: str | None = None
    #: the county ranks towns by it
    ranked: bool = False
    breakdowns: tuple[str, ...] = DISPUTE_BREAKDOWNS
    denominator_is: str | None = None
    numerator_is: str | None = None
    may_exceed_one: bool = False
    #: what a consumer must know beyond the definition (shape, nulls)
    note: str = ""
    #: how this version still computes it, where that differs from the definition
    interim: str = ""
    #: the contract version that added it; a file of an older 1.x version
    #: lacks it, so the JSON Schema requires only the 1.0 figures
    since: str = "1.0"
    #: what the figure tells a reader, in one plain sentence (the 指标解释 page)
    meaning: str = ""
    #: a few words for the numerator and the denominator, for the short note
    #: beside a table row ("已办结 ÷ 受理"); for a count, what it counts
    numerator_label: str = ""
    denominator_label: str = ""

    @property
    def tabs(self) -> tuple[str, ...]:
        """The tabs it reads, in ``needs`` order."""
        return tuple(dict.fromkeys(need.split(".", 1)[0] for need in self.needs))

    @property
    def optional(self) -> bool:
        """Null as a whole when one of its optional tabs (or optional
        columns of the dispute ledger) is missing."""
        return any(tab != REQUIRED_TAB for tab in self.tabs) \
            or any(need in OPTIONAL_COLUMNS for need in self.needs)

    def definition(self) -> str:
        """The definition in one line: ``numerator ÷ denominator`` for a ratio."""
        if self.denominator:
            return f"{self.numerator} ÷ {self.denominator}"
        return self.numerator

    def short_note(self) -> str:
        """The note beside a table row: "已办结 ÷ 受理" for a ratio, what is
        counted for a count. It names the parts without numbers, so a days
        figure is never shown as a fraction."""
        if self.denominator_label:
            return f"{self.numerator_label} ÷ {self.denominator_label}"
        return self.numerator_label

    def counted_note(self, numerator: object, denominator: object) -> str:
        """The note with the counts in it, "已办结 9 ÷ 受理 12". A days
        figure keeps the words alone: its numerator is days × cases, which
        read as a fraction ("1472/75") means nothing to anyone."""
        if not self.denominator_label or self.kind == "days":
            return self.short_note()
        return f"{self.numerator_label} {numerator} ÷ {self.denominator_label} {denominator}"

    def description(self) -> str:
        """The JSON Schema description of the figure (a test keeps the
        schema file equal to it)."""
        text = f"{self.title}：{self.definition()}。"
        if self.note:
            text += self.note
        if self.interim:
            text += f"本版本暂按以下方法计算：{self.interim}。"
        return text


_METRICS = [
    Metric("received", "受理数", "count", "count", "件",
           "受理日期在统计期内的纠纷件数",
           needs=("disputes.received_date",), breakdowns=_ACC,
           meaning="本期新受理了多少起纠纷", numerator_label="本期受理的纠纷"),
    Metric("closed", "办结数", "count", "count", "件",
           "办结日期在统计期内的已办结纠纷件数（状态为已化解、转司法、已终结或已撤回，"
           "且办结日期不早于受理日期）",
           needs=_DATES, breakdowns=_ACC,
           meaning="本期办完了多少起纠纷，不论是什么时候受理的", numerator_label="本期办结的纠纷"),
    Metric("resolved", "化解数", "count", "count", "件",
           "统计期内办结、且状态为已化解的纠纷件数",
           needs=_DATES,
           meaning="本期办完的纠纷中，有多少起是化解了的（不含转司法、终结和撤回）", numerator_label="本期办结且已化解"),
    Metric("pending_start", "期初在办", "count", "count", "件",
           "统计期开始前受理、到统计期开始前一天仍未办结的纠纷件数",
           needs=_DATES,
           meaning="本期开始的时候，手上还有多少起以前受理、没有办完的纠纷", numerator_label="期初仍未办结"),
    Metric("pending_end", "期末在办", "count", "count", "件",
           "到统计期最后一天已受理、且到这一天仍未办结的纠纷件数",
           needs=_DATES, note="恒有 期初在办 + 受理数 = 期末在办 + 办结数。",
           meaning="本期结束的时候（本期未结束的，到截止日），还有多少起纠纷没有办完", numerator_label="期末仍未办结"),
    Metric("clearance_rate", "结收比", "rate", "rate", "%",
           _CLOSED, _RECEIVED, needs=_DATES, target_key="clearance_rate",
           denominator_is="received", numerator_is="closed", may_exceed_one=True,
           note="办结的可以是以前受理的纠纷，所以可能超过 100%。",
           meaning="本期办完的件数相当于新受理件数的多少；超过 100% 说明在消化以前积下的纠纷",
           numerator_label="办结", denominator_label="受理"),
    Metric("closure_rate", "办结率", "rate", "rate", "%",
           "统计期内受理、且到截止日已办结的纠纷件数", _RECEIVED,
           needs=_DATES, target_key="closure_rate", ranked=True, denominator_is="received",
           meaning="本期受理的纠纷，到截止日已经办完了多少", numerator_label="已办结", denominator_label="受理"),
    Metric("resolution_rate", "化解率", "rate", "rate", "%",
           "统计期内受理、到截止日已办结、且状态为已化解的纠纷件数", _RECEIVED,
           needs=_DATES, target_key="resolution_rate", denominator_is="received",
           meaning="本期受理的纠纷，到截止日已经化解了多少", numerator_label="已化解", denominator_label="受理"),
    Metric("on_time_rate", "按期办结率", "rate", "rate", "%",
           "统计期内办结、且从受理次日到办结日的天数（按 config.day_count 计）不超过其星级期限的纠纷件数",
           _CLOSED, needs=(*_DATES, "disputes.star"), target_key="on_time_rate", ranked=True,
           denominator_is="closed", breakdowns=_ACC,
           meaning="本期办完的纠纷中，有多少是在星级规定的期限内办完的", numerator_label="按期办结", denominator_label="办结"),
    Metric("overdue_open", "逾期在办", "count", "count", "件",
           "到截止日仍未办结、且已用天数（按 config.day_count 计）超过其星级期限的纠纷件数，"
           "也就是督办清单的件数",
           needs=(*_DATES, "disputes.star"), breakdowns=_ACC,
           meaning="到截止日还没办完、已经超过星级期限的纠纷有多少起，也就是督办清单上的件数", numerator_label="逾期未办结的纠纷"),
    Metric("first_try_rate", "首次调解成功率", "rate", "rate", "%",
           "统计期内办结、且首次调解成功填“是”的纠纷件数", _CLOSED,
           needs=(*_DATES, "disputes.first_try_success"), target_key="first_try_rate",
           ranked=True, denominator_is="closed",
           meaning="本期办完的纠纷中，有多少是第一次调解就成功的", numerator_label="首次调解成功", denominator_label="办结"),
    Metric("local_rate", "矛盾不上交率", "rate", "rate", "%",
           "统计期内办结、且调处层级为村级或镇级的纠纷件数", _CLOSED,
           needs=(*_DATES, "disputes.level"), target_key="local_rate", ranked=True,
           denominator_is="closed",
           meaning="本期办完的纠纷中，有多少是在村、镇两级解决、没有上交到县里的",
           numerator_label="村级、镇级办结", denominator_label="办结"),
    Metric("level_mix", "层级分布", "mix", "mix", "件",
           "统计期内办结的纠纷按调处层级（村级、镇级、县级）分别计数",
           needs=(*_DATES, "disputes.level"),
           note="三个层级总在；调处层级未填的计入“未填”（仅在大于 0 时出现）。各项之和等于办结数。",
           meaning="本期办完的纠纷，分别是在村级、镇级、县级哪一级办结的", numerator_label="办结件数按层级分列"),
    Metric("grid_discovery_rate", "网格发现率", "rate", "rate", "%",
           "统计期内受理、且来源为网格排查的纠纷件数", _RECEIVED,
           needs=("disputes.received_date", "disputes.source"),
           target_key="grid_discovery_rate", denominator_is="received",
           meaning="本期受理的纠纷中，有多少是网格员排查时发现的", numerator_label="网格排查发现", denominator_label="受理"),
    Metric("repeat_rate", "重复访率", "rate", "rate", "%",
           "统计期内受理、且填了重复事项的纠纷件数", _RECEIVED,
           needs=("disputes.received_date", "disputes.repeat_of"), denominator_is="received",
           meaning="本期受理的纠纷中，有多少是以前已经反映过的同一件事", numerator_label="重复事项", denominator_label="受理"),
    Metric("online_rate", "网上投诉率", "rate", "rate", "%",
           "统计期内受理、且来源为网上舆情的纠纷件数", _RECEIVED,
           needs=("disputes.received_date", "disputes.source"), denominator_is="received",
           meaning="本期受理的纠纷中，有多少来自网上舆情", numerator_label="来自网上舆情", denominator_label="受理"),
    Metric("backlog_start", "积案", "count", "count", "件",
           "统计期开始时仍在办、且到那时已受理超过 config.backlog_days 天的纠纷件数",
           needs=_DATES,
           meaning="本期开始的时候，有多少起纠纷已经拖了很久（超过积案天数）还没办完", numerator_label="期初积案"),
    Metric("backlog_cleared", "积案化解", "count", "count", "件",
           "积案中在统计期内办结的件数",
           needs=_DATES,
           meaning="期初的积案中，本期办完了多少起", numerator_label="积案中本期办结"),
    Metric("followup_rate", "回访率", "rate", "rate", "%",
           "统计期内办结、且回访日期不早于办结日期、不晚于截止日的纠纷件数", _CLOSED,
           needs=(*_DATES, "disputes.followup_date"), target_key="followup_rate",
           denominator_is="closed",
           note="截止日以后的回访在截止日还没有发生，不计入，所以过去的统计期以后再算，数字也不变。",
           meaning="本期办完的纠纷中，有多少在办结以后、截止日以前做了回访", numerator_label="已回访", denominator_label="办结"),
    Metric("satisfaction_rate", "满意率", "rate", "rate", "%",
           "计入回访率分子、且满意度为满意或基本满意的纠纷件数",
           "计入回访率分子、且填了满意度的纠纷件数",
           needs=(*_DATES, "disputes.followup_date", "disputes.satisfaction"),
           target_key="satisfaction_rate", ranked=True, breakdowns=_ACC,
           note="回访日期空白、早于办结日期或晚于截止日的，即使填了满意度，也不计入分子和分母。",
           meaning="做过有效回访并留下评价的纠纷中，当事人满意或基本满意的有多少",
           numerator_label="满意和基本满意", denominator_label="有评价的回访"),
    Metric("median_days", "办结天数中位数", "days", "number", "天",
           "统计期内办结的纠纷从受理到办结的自然日数的中位数（件数为偶数时取中间两个数的平均）",
           needs=_DATES, breakdowns=(),
           note="由 distributions.days_to_close 算出；没有办结件时为 null。",
           meaning="本期办完的纠纷，从受理到办结一般用多少天：一半比它快，一半比它慢", numerator_label="办结天数的中位数"),
    Metric("disposition_days", "预计结案天数", "days", "rate", "天",
           "统计期天数 × 期末在办件数", _CLOSED,
           needs=_DATES, denominator_is="closed", may_exceed_one=True,
           note="值是天数，不是比例。",
           meaning="照本期的办结速度，把期末还没办完的纠纷全部办完，大约还要多少天",
           numerator_label="本期天数 × 期末在办", denominator_label="办结"),
    Metric("received_yoy", "受理数同比", "count", "change", "件",
           "统计期内受理的纠纷件数，与上年同一时段的受理件数相比",
           needs=("disputes.received_date",), note=_YOY,
           meaning="本期受理的件数，比上年同一时段多了还是少了", numerator_label="本期受理（与上年同期比）"),
    Metric("petition_batches", "信访批次", "count", "change", "批",
           "统计期内受理、且来源为信访的纠纷件数，与上年同一时段相比",
           needs=("disputes.received_date", "disputes.source"), note=_YOY,
           meaning="本期来源为信访的纠纷有多少批，比上年同一时段多了还是少了", numerator_label="信访批次"),
    Metric("petition_persons", "信访人次", "count", "change", "人次",
           "统计期内受理、且来源为信访的纠纷的涉及人数之和（涉及人数无效时按 1 人计），"
           "与上年同一时段相比",
           needs=("disputes.received_date", "disputes.source", "disputes.persons_involved"),
           note=_YOY,
           meaning="本期信访纠纷一共涉及多少人次，比上年同一时段多了还是少了", numerator_label="信访涉及人次"),
    Metric("visit_coverage", "走访覆盖率", "rate", "rate", "%",
           "统计期内走访到的不同（网格编号, 户编号）组合数（户编号只在本网格内区分住户，"
           "不同网格里相同的户编号是不同的户；网格编号空白或不在网格表里的走访记录归不到任何网格，"
           "不计入任何网格，也不计入全镇和各村）",
           "网格表里各网格的户数之和",
           needs=("visits.date", "visits.grid_id", "visits.household",
                  "grids.grid_id", "grids.village", "grids.households"),
           target_key="visit_coverage", breakdowns=("village", "grid"), may_exceed_one=True,
           note="全镇和各村的分子、分母都恰好等于所辖各网格之和。"
                "网格表的户数少填时可能超过 100%。缺走访记录或网格表（或所需的列）时整体为 null。",
           meaning="网格里的住户，本期有多少户被走访到了", numerator_label="走访到的户", denominator_label="网格总户数"),
    Metric("key_person_followup_rate", "重点人员随访达标率", "rate", "rate", "%",
           "统计期内没有一段随访间隔超过其随访频次允许天数的重点人员数（间隔是前后两次有效随访的日期"
           "相减所得的天数，统计期第一天（列入日期更晚的，为列入日期）的前一天和统计期最后一天"
           "（截止日更早的，为截止日）的后一天都当作有过一次随访，也就是统计期内不能连续达到允许天数"
           "都没有有效随访；有效随访指方式符合该人员类别要求的随访，没有要求的类别任何方式都算；"
           "随访频次空白或不认识的，按最短的允许天数）",
           "统计期内在重点人员表上的人数（列入日期晚于统计期最后一天或截止日的不算）",
           needs=("key_persons.person_id", "key_persons.category", "key_persons.frequency",
                  "key_persons.listed_date", "key_person_visits.person_id",
                  "key_person_visits.date", "key_person_visits.method"),
           target_key="key_person_followup_rate",
           breakdowns=("village", "grid", "key_person_category"),
           note="允许天数取 config.key_person_intervals，各类别认可的方式取 "
                "config.key_person_methods。只发布人数（按村、网格和类别），不发布人员编号。"
                "缺重点人员表或随访表，或者配置限定了方式而随访表没有方式列时为 null。",
           meaning="名单上的重点人员中，有多少人本期的随访间隔都没有超过规定",
           numerator_label="随访达标的人", denominator_label="名单上的人"),
    Metric("reception_compliance", "领导接访达标率", "rate", "rate", "%",
           "按职务类别逐一判断：本类别的每一项接访定额（config.reception_quotas），"
           "在统计期内每一个完整周期（按定额为一天、周一至周日的一周或一个自然月）里，"
           "以定额认可的方式（接访、下访、约访、走访中的几种）接待群众的不同日期数"
           "都不少于定额天数的领导人数",
           "领导名册上统计期内在岗、职务类别配置了定额、且至少有一个完整周期可判断的领导人数"
           "（没有领导名册时，改为统计期内有接访记录的领导人数）",
           needs=("receptions.date", "receptions.leader", "receptions.rank"),
           target_key="reception_compliance", breakdowns=("reception_rank",),
           note="完整周期指整个落在统计期（截至截止日）之内、也整个落在这位领导在岗期间"
                "（到岗日期至离岗日期，空白表示不限）之内的周期；同一天接待多次只算一天。"
                "名册上在岗却没有任何接访记录的领导也计入分母，算作未达标。"
                "方式空白或写错的接访，只计入不限方式的定额。"
                "reception_basis 写明分母的依据：roster（领导名册）或 records（接访记录）。"
                "缺领导接访表时为 null。",
           meaning="在岗的领导中，有多少人本期接访、下访的天数达到了定额",
           numerator_label="达到定额的领导", denominator_label="在岗领导"),
    Metric("needs_closure_rate", "需求办结率", "rate", "rate", "%",
           "统计期内提出、状态为已办结或无法办理、且办结日期不早于提出日期、不晚于截止日的需求数",
           "统计期内提出的需求数",
           needs=("needs.raised_date", "needs.status", "needs.closed_date"),
           target_key="needs_closure_rate", breakdowns=("village",),
           note="缺需求清单时为 null。",
           meaning="本期群众提出的需求，到截止日已经办完了多少", numerator_label="已办结的需求", denominator_label="本期提出的需求"),
    # -- the supervision loop (DOMAIN.md 4.2), since contract 1.2 ----------------
    Metric("supervised", "督办件数", "count", "count", "件",
           "督办日期在统计期内的督办记录所涉及的不同纠纷件数（纠纷编号要能在纠纷台账中找到）",
           needs=("supervisions.dispute_id", "supervisions.date", "disputes.id"),
           breakdowns=ACCOUNTABILITY_BREAKDOWNS, since="1.2",
           note="统计期开始前已办结的纠纷，之后再有督办记录的不计入。缺督办记录表时为 null。",
           meaning="本期督办过的纠纷有多少起；同一起督办几次也只算一起", numerator_label="督办过的纠纷"),
    Metric("supervision_count", "督办次数", "count", "count", "次",
           "督办日期在统计期内的督办记录行数",
           needs=("supervisions.date",), breakdowns=(), since="1.2",
           note="缺督办记录表时为 null。",
           meaning="本期一共督办了多少次", numerator_label="督办记录条数"),
    Metric("overdue_explained_rate", "逾期说明率", "rate", "rate", "%",
           "截止日逾期在办、且有一条督办日期不晚于截止日并填了逾期说明的督办记录的纠纷件数",
           "截止日逾期在办的纠纷件数",
           needs=(*_DATES, "disputes.star", "supervisions.dispute_id", "supervisions.date",
                  "supervisions.explanation"),
           target_key="overdue_explained_rate", denominator_is="overdue_open",
           breakdowns=ACCOUNTABILITY_BREAKDOWNS, since="1.2",
           note="只看逾期说明填没填，说明的内容不发布。缺督办记录表或其逾期说明列时为 null。",
           meaning="截止日逾期未办结的纠纷中，有多少交了逾期说明", numerator_label="有逾期说明", denominator_label="逾期在办"),
    Metric("assign_days_median", "交办用时中位数", "days", "number", "天",
           "统计期内受理、且交办日期有效（不早于受理日期）的纠纷，从受理日期到交办日期的自然日数的中位数",
           needs=("disputes.received_date", "disputes.assigned_date"), breakdowns=(), since="1.2",
           note="由 distributions.assign_days 算出；没有这样的纠纷时为 null，纠纷台账没有交办日期列时也为 null。",
           meaning="本期受理的纠纷，从受理到交办给责任单位一般用几天：一半比它快，一半比它慢", numerator_label="交办天数的中位数"),
    Metric("feedback_rate", "反馈率", "rate", "rate", "%",
           "统计期内办结、且反馈日期不早于受理日期、不晚于截止日的纠纷件数", _CLOSED,
           needs=(*_DATES, "disputes.feedback_date"), target_key="feedback_rate",
           denominator_is="closed", breakdowns=(), since="1.2",
           note="截止日以后的反馈在截止日还没有发生，不计入。纠纷台账没有反馈日期列时为 null。",
           meaning="本期办完的纠纷中，有多少已经把结果告诉了当事人", numerator_label="已反馈", denominator_label="办结"),
    Metric("village_kept_rate", "小事不出村率", "rate", "rate", "%",
           "统计期内办结、初始层级为村级、调处层级也是村级、且截止日前没有上传记录的纠纷件数",
           "统计期内办结、且初始层级为村级的纠纷件数",
           needs=(*_DATES, "disputes.level", "disputes.initial_level",
                  "transfers.dispute_id", "transfers.date", "transfers.direction"),
           target_key="village_kept_rate", breakdowns=(), since="1.2",
           note="初始层级空白的，按调处层级算。有流转记录表时，截止日前有过上传的纠纷，"
                "即使最后又回到村级办结，也不算不出村。纠纷台账没有初始层级列、也没有流转记录表时为 null"
                "（只有调处层级时看不出纠纷是否出过村）。",
           meaning="从村里开始办的纠纷中，有多少最后在村里办结、始终没有上交",
           numerator_label="留在村里办结", denominator_label="从村级开始办"),
    Metric("passed_up", "上传", "count", "count", "次",
           "日期在统计期内、流向为上传的流转记录行数",
           needs=("transfers.date", "transfers.direction"), breakdowns=(), since="1.2",
           note="缺流转记录表时为 null。",
           meaning="本期把纠纷交到上一级办理（上传）了多少次", numerator_label="上传记录"),
    Metric("passed_down", "下传", "count", "count", "次",
           "日期在统计期内、流向为下传的流转记录行数",
           needs=("transfers.date", "transfers.direction"), breakdowns=(), since="1.2",
           note="缺流转记录表时为 null。",
           meaning="本期把纠纷交回村里办理（下传）了多少次", numerator_label="下传记录"),
    Metric("passed_across", "专传", "count", "count", "次",
           "日期在统计期内、流向为专传的流转记录行数",
           needs=("transfers.date", "transfers.direction"), breakdowns=(), since="1.2",
           note="缺流转记录表时为 null。",
           meaning="本期把纠纷转给对口部门办理（专传）了多少次", numerator_label="专传记录"),
    Metric("group_cases", "群体性纠纷", "count", "change", "件",
           "统计期内受理、且涉及人数不少于 config.group_threshold 的纠纷件数，与上年同一时段相比",
           needs=("disputes.received_date", "disputes.persons_involved"), breakdowns=(),
           since="1.2", note=_YOY + "涉及人数无效时按 1 人计。",
           meaning="本期受理的涉及人数多的群体性纠纷有多少起，比上年同一时段多了还是少了", numerator_label="群体性纠纷"),
    Metric("status_mix", "办结方式", "mix", "mix", "件",
           "统计期内办结的纠纷按状态（已化解、转司法、已终结、已撤回）分别计数",
           needs=_DATES, breakdowns=(), since="1.2", note="各项之和等于办结数。",
           meaning="本期办完的纠纷，分别是以化解、转司法、终结、撤回中的哪一种方式办结的", numerator_label="办结件数按状态分列"),
    Metric("star_mix", "星级分布", "mix", "mix", "件",
           "统计期内受理的纠纷按星级（1、2、3）分别计数",
           needs=("disputes.received_date", "disputes.star"), breakdowns=(), since="1.2",
           note="键是星级数字；各项之和等于受理数。",
           meaning="本期受理的纠纷，一星、二星、三星各有多少起", numerator_label="受理件数按星级分列"),
    Metric("force_mix", "调解力量", "mix", "mix", "件",
           "统计期内办结的纠纷按调解力量分别计数，每种力量各带其首次调解成功率",
           needs=(*_DATES, "disputes.mediation_force", "disputes.first_try_success"),
           breakdowns=(), since="1.2",
           note="每一项是 {closed, first_try_rate}；调解力量未填的计入“未填”（仅在大于 0 时出现）。"
                "各项办结数之和等于办结数。纠纷台账没有调解力量列时为 null。",
           meaning="本期办完的纠纷分别由哪种调解力量办理，各自第一次调解的成功率是多少", numerator_label="办结件数按调解力量分列"),
    Metric("key_persons_by_category", "重点人员底数", "mix", "mix", "人",
           "统计期最后一天（截止日更早的，为截止日）在重点人员表上的人数，按类别分别计数",
           needs=("key_persons.person_id", "key_persons.category", "key_persons.listed_date"),
           breakdowns=(), since="1.2",
           note="只有人数；类别未填的计入“未填”。列入日期晚于那一天的不算。缺重点人员表时为 null。",
           meaning="截止日名单上的重点人员，各类别各有多少人（只公布人数）", numerator_label="名单上的人数按类别分列"),
]

#: metric id → entry, in the order every listing uses (DOMAIN.md section 4)
METRICS: dict[str, Metric] = {m.id: m for m in _METRICS}

#: metric id → Chinese name
TITLES: dict[str, str] = {m.id: m.title for m in _METRICS}
#: the keys a config may set under ``targets:`` (every one a rate)
TARGET_KEYS: tuple[str, ...] = tuple(m.target_key for m in _METRICS if m.target_key)
#: the rates the county ranks its towns by
RANKED: tuple[str, ...] = tuple(m.id for m in _METRICS if m.ranked)
#: figures that are null when an optional tab is missing
OPTIONAL: tuple[str, ...] = tuple(m.id for m in _METRICS if m.optional)
#: the figures of the accountability views, by 责任单位 and by 包案领导
ACCOUNTABILITY: tuple[str, ...] = tuple(m.id for m in _METRICS if "unit" in m.breakdowns)
#: the 1.0 figures: a metrics file of any 1.x version has them
FIGURES_1_0: tuple[str, ...] = tuple(m.id for m in _METRICS if m.since == "1.0")
#: the figures the town home page and the county overview lead with, in that order
KEY_FIGURES: tuple[str, ...] = ("received", "closed", "closure_rate", "on_time_rate",
                                "first_try_rate", "local_rate", "satisfaction_rate",
                                "overdue_open")
#: the figures metrics.json compares with the previous period (环比) and the
#: same period a year earlier (同比) under ``comparisons``: every count, rate,
#: year-on-year count (as its count) and median (since 1.6: each earlier
#: window carries the distributions its medians are taken of, so a roll-up
#: recomputes them). Mixes are left out.
COMPARED: tuple[str, ...] = tuple(m.id for m in _METRICS
                                  if m.shape in ("count", "rate", "change", "number"))
#: the 指标解释 page's sections: heading → metric ids, every metric exactly
#: once (``tests/test_definitions.py``)
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("受理与办结", ("received", "closed", "resolved", "pending_start", "pending_end",
                "clearance_rate", "closure_rate", "resolution_rate", "received_yoy")),
    ("期限、积案与督办", ("on_time_rate", "overdue_open", "backlog_start", "backlog_cleared",
                   "median_days", "disposition_days", "supervised", "supervision_count",
                   "overdue_explained_rate", "assign_days_median")),
    ("调解与层级", ("first_try_rate", "local_rate", "level_mix", "village_kept_rate",
               "passed_up", "passed_down", "passed_across", "status_mix", "force_mix")),
    ("来源、信访与群体性纠纷", ("grid_discovery_rate", "repeat_rate", "online_rate",
                     "petition_batches", "petition_persons", "group_cases", "star_mix")),
    ("回访与反馈", ("followup_rate", "satisfaction_rate", "feedback_rate")),
    ("网格走访、重点人员、领导接访和群众需求",
     ("visit_coverage", "key_person_followup_rate", "key_persons_by_category",
      "reception_compliance", "needs_closure_rate")),
)


def title(metric_id: str) -> str:
    """The Chinese name; an unknown id is shown as itself rather than hidden."""
    entry = METRICS.get(metric_id)
    return metric_id if entry is None else entry.title


def ids(*, kind: Kind | None = None, shape: Shape | None = None) -> tuple[str, ...]:
    """Metric ids of one kind and/or shape, in catalogue order."""
    return tuple(m.id for m in _METRICS
                 if (kind is None or m.kind == kind) and (shape is None or m.shape == shape))


def carried_by(breakdown: str) -> tuple[str, ...]:
    """The optional figures a breakdown carries besides the dispute figures."""
    return tuple(m.id for m in _METRICS if m.optional and breakdown in m.breakdowns)
