"""The sample catalog: a seeded, documented generator of a realistic city item catalog.

:func:`generate_catalog` builds the catalog of a city's government service halls (by default
Dongying: the city hall 370500 and its five districts/counties) from tables of real department
names and real item names, with:

* ``departments`` departments (default 54): about five ninths at the city hall (市直部门), the
  rest spread round-robin over the county halls. Government organs get credit codes starting
  ``11``, public institutions (事业单位, e.g. 住房公积金管理中心) ``12``, mass organisations
  (残疾人联合会) ``13``; every code is valid (organisation code and GB 32100 check characters
  computed by :mod:`govlink.domain`).
* ``items`` items (default 400), shared out over departments in proportion to their item tables;
  mostly 行政许可 and 公共服务. Basic codes (基本编码, 12 digits) are
  ``<type code 2><item number 7><variant 3>`` and shared by every hall that implements the same
  item; implementation codes (实施编码, 31) are ``<department credit code 18><level 1><basic
  code 12>``; handling item codes append ``001``.
* Legal limits mostly 20 working days (Licensing Law §42) or the item's own limit; promised
  limits on average about 50% shorter (about one item in eight is handled on the spot, 即办件).
* About ``dirty`` (default 3%) deliberately dirty items that trigger consistency *warnings*
  (never errors): a visit without a reason, a fee without a basis, an implementation code
  carrying a department's pre-reform credit code, a local 10-character basic code, a missing
  legal basis. They let the demo show what an audit reports.

The same arguments always give the same catalog (``random.Random(seed)``, no clock, no hash
ordering), so the bundled file ``govlink/samples/data/catalog.json`` is exactly
``generate_catalog().to_json()`` and a test checks it. Scaling: 10,000 items take about a
second (``generate_catalog(items=10_000)``), for the catalog sync benchmark.

Regenerate the bundled file after changing the generator::

    python -c "from govlink.samples import generate_catalog; \\
        generate_catalog().write('src/govlink/samples/data/catalog.json')"

One cohesive concept, hence one module despite its length: the seeded generator of a city's
catalog.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Final

from .._errors import ValidationError
from ..domain import (
    CREDIT_CODE_ALPHABET,
    Department,
    Finding,
    Item,
    ItemState,
    ItemType,
    Region,
    RegionLevel,
    RegionRegistry,
    credit_code_check_character,
    default_regions,
    organisation_code_check_character,
    parse_item,
    parse_model,
)

__all__ = [
    "CATALOG_FORMAT",
    "DEFAULT_SEED",
    "SampleCatalog",
    "SampleDepartment",
    "generate_catalog",
    "load_sample_catalog",
]

#: The seed of the bundled catalog (the date the demo city's virtual clock starts).
DEFAULT_SEED: Final = 20260302
#: Format tag of the catalog JSON file.
CATALOG_FORMAT: Final = "govlink-sample-catalog/1"

# --- tables ---------------------------------------------------------------------------------

# Item table entries: (name, type abbreviation, legal limit in working days or 0 for none,
# "spot" when the item is typically handled on the spot).
_Entry = tuple[str, str, int, bool]

_ITEMS: Final[dict[str, list[_Entry]]] = {
    "市场监督管理局": [
        ("食品经营许可", "XK", 20, False),
        ("食品生产许可", "XK", 20, False),
        ("药品零售企业许可", "XK", 30, False),
        ("第三类医疗器械经营许可", "XK", 30, False),
        ("特种设备使用登记", "XK", 15, False),
        ("工业产品生产许可证核发", "XK", 20, False),
        ("营业执照（个体工商户）登记", "QR", 15, True),
        ("股权出质登记", "QR", 15, True),
        ("企业登记档案查询", "GG", 0, True),
        ("计量标准器具核准", "XK", 20, False),
    ],
    "住房和城乡建设局": [
        ("建筑工程施工许可证核发", "XK", 15, False),
        ("商品房预售许可", "XK", 20, False),
        ("建筑业企业资质核准", "XK", 20, False),
        ("城镇污水排入排水管网许可", "XK", 20, False),
        ("燃气经营许可证核发", "XK", 20, False),
        ("建设工程竣工验收备案", "QT", 15, False),
        ("商品房买卖合同网签备案", "GG", 0, True),
        ("房屋建筑和市政基础设施工程施工图审查备案", "QT", 10, False),
    ],
    "公安局": [
        ("户口迁移审批", "XK", 20, False),
        ("旅馆业特种行业许可证核发", "XK", 20, False),
        ("公章刻制业特种行业许可证核发", "XK", 20, False),
        ("大型群众性活动安全许可", "XK", 20, False),
        ("爆破作业单位许可证核发", "XK", 20, False),
        ("居民身份证申领", "GG", 60, False),
        ("户籍证明开具", "GG", 0, True),
        ("临时居民身份证申领", "GG", 3, False),
        ("犬类准养证核发", "XK", 20, False),
    ],
    "民政局": [
        ("内地居民婚姻登记", "QR", 0, True),
        ("社会团体成立登记", "XK", 60, False),
        ("民办非企业单位成立登记", "XK", 60, False),
        ("最低生活保障审批", "GF", 30, False),
        ("特困人员救助供养审批", "GF", 30, False),
        ("临时救助金给付", "GF", 15, False),
        ("婚姻登记记录证明开具", "GG", 0, True),
        ("养老机构备案", "QT", 10, False),
        ("残疾人两项补贴给付", "GF", 20, False),
    ],
    "人力资源和社会保障局": [
        ("人力资源服务许可", "XK", 20, False),
        ("劳务派遣经营许可", "XK", 20, False),
        ("工伤认定", "QR", 60, False),
        ("失业保险金申领", "GF", 10, False),
        ("就业创业证申领", "GG", 0, True),
        ("职业资格证书补发", "GG", 10, False),
        ("社会保障卡申领", "GG", 10, False),
        ("企业实行不定时工作制和综合计算工时工作制审批", "XK", 20, False),
    ],
    "卫生健康委员会": [
        ("医疗机构执业登记", "XK", 45, False),
        ("母婴保健技术服务执业许可", "XK", 20, False),
        ("公共场所卫生许可", "XK", 20, False),
        ("放射诊疗许可", "XK", 20, False),
        ("饮用水供水单位卫生许可", "XK", 20, False),
        ("出生医学证明首次签发", "GG", 0, True),
        ("医师执业注册", "XK", 20, False),
        ("护士执业注册", "XK", 20, False),
    ],
    "交通运输局": [
        ("道路旅客运输经营许可", "XK", 20, False),
        ("道路货物运输经营许可", "XK", 20, False),
        ("出租汽车经营许可", "XK", 20, False),
        ("公路超限运输许可", "XK", 5, False),
        ("港口经营许可", "XK", 30, False),
        ("道路运输证补办", "GG", 0, True),
        ("机动车维修经营备案", "QT", 5, False),
    ],
    "自然资源和规划局": [
        ("建设用地规划许可证核发", "XK", 20, False),
        ("建设工程规划许可证核发", "XK", 20, False),
        ("乡村建设规划许可证核发", "XK", 20, False),
        ("临时用地审批", "XK", 20, False),
        ("建设项目用地预审与选址意见书核发", "XK", 20, False),
        ("地质灾害危险性评估备案", "QT", 10, False),
    ],
    "生态环境局": [
        ("建设项目环境影响报告书审批", "XK", 60, False),
        ("建设项目环境影响报告表审批", "XK", 30, False),
        ("排污许可", "XK", 30, False),
        ("危险废物经营许可", "XK", 20, False),
        ("辐射安全许可", "XK", 20, False),
        ("环境信息依申请公开", "GG", 15, False),
    ],
    "农业农村局": [
        ("农药经营许可", "XK", 20, False),
        ("兽药经营许可证核发", "XK", 20, False),
        ("农作物种子生产经营许可证核发", "XK", 20, False),
        ("动物防疫条件合格证核发", "XK", 20, False),
        ("渔业捕捞许可", "XK", 20, False),
        ("拖拉机和联合收割机驾驶证申领", "XK", 20, False),
        ("农机购置补贴发放", "GF", 30, False),
    ],
    "水务局": [
        ("取水许可", "XK", 45, False),
        ("河道管理范围内建设项目工程建设方案审批", "XK", 20, False),
        ("生产建设项目水土保持方案审批", "XK", 20, False),
        ("洪水影响评价类审批", "XK", 20, False),
        ("城市排水许可", "XK", 20, False),
    ],
    "教育局": [
        ("民办学校办学许可", "XK", 90, False),
        ("教师资格认定", "QR", 60, False),
        ("校车使用许可", "XK", 20, False),
        ("学生学籍转接", "GG", 10, False),
        ("家庭经济困难学生资助", "GF", 30, False),
    ],
    "文化和旅游局": [
        ("娱乐场所经营许可", "XK", 20, False),
        ("营业性演出许可", "XK", 20, False),
        ("旅行社业务经营许可", "XK", 20, False),
        ("互联网上网服务营业场所经营许可", "XK", 20, False),
        ("公共图书馆借阅证办理", "GG", 0, True),
    ],
    "商务局": [
        ("对外贸易经营者备案登记", "QT", 5, True),
        ("成品油零售经营资格审批", "XK", 20, False),
        ("拍卖企业分公司设立审批", "XK", 20, False),
        ("单用途商业预付卡备案", "QT", 5, False),
    ],
    "应急管理局": [
        ("危险化学品经营许可证核发", "XK", 30, False),
        ("烟花爆竹经营（零售）许可", "XK", 20, False),
        ("非煤矿山安全生产许可", "XK", 45, False),
        ("生产经营单位生产安全事故应急预案备案", "QT", 10, False),
    ],
    "发展和改革委员会": [
        ("企业投资项目核准", "XK", 20, False),
        ("企业投资项目备案", "QT", 3, True),
        ("固定资产投资项目节能审查", "XK", 20, False),
        ("价格认定", "QT", 30, False),
    ],
    "工业和信息化局": [
        ("民用爆炸物品销售许可", "XK", 20, False),
        ("技术改造投资项目备案", "QT", 5, False),
        ("中小企业公共服务", "GG", 10, False),
    ],
    "财政局": [
        ("代理记账资格审批", "XK", 20, False),
        ("政府采购供应商信息登记", "GG", 3, False),
        ("财政票据领购", "GG", 0, True),
    ],
    "司法局": [
        ("基层法律服务工作者执业核准", "XK", 20, False),
        ("法律援助申请", "GG", 7, False),
        ("人民调解申请", "GG", 10, False),
        ("律师执业证补证", "GG", 10, False),
    ],
    "退役军人事务局": [
        ("优抚对象抚恤补助给付", "GF", 30, False),
        ("退役军人优待证申领", "GG", 20, False),
        ("烈士褒扬金给付", "GF", 30, False),
    ],
    "医疗保障局": [
        ("基本医疗保险参保登记", "GG", 0, True),
        ("异地就医备案", "GG", 0, True),
        ("医疗费用手工报销", "GG", 20, False),
        ("医疗救助", "GF", 20, False),
    ],
    "综合行政执法局": [
        ("城市建筑垃圾处置核准", "XK", 20, False),
        ("设置大型户外广告及在城市建筑物、设施上悬挂、张贴宣传品审批", "XK", 20, False),
        ("城市道路挖掘占用审批", "XK", 20, False),
        ("临时占用城市绿地审批", "XK", 20, False),
    ],
    "人民防空办公室": [
        ("人民防空工程拆除审批", "XK", 20, False),
        ("人民防空工程易地建设审批", "XK", 20, False),
        ("人民防空工程竣工验收备案", "QT", 15, False),
    ],
    "统计局": [
        ("统计调查项目审批", "XK", 20, False),
        ("统计资料查询", "GG", 0, True),
    ],
    "行政审批服务局": [
        ("设立典当行及分支机构审批", "XK", 20, False),
        ("建设工程消防设计审查", "XK", 15, False),
        ("建设工程消防验收", "XK", 15, False),
        ("公众聚集场所投入使用、营业前消防安全检查", "XK", 10, False),
        ("企业设立登记", "QR", 3, True),
    ],
    "住房公积金管理中心": [
        ("住房公积金缴存登记", "GG", 0, True),
        ("住房公积金提取", "GG", 3, False),
        ("住房公积金个人住房贷款", "GG", 15, False),
        ("住房公积金缴存证明开具", "GG", 0, True),
    ],
    "不动产登记中心": [
        ("国有建设用地使用权及房屋所有权首次登记", "QR", 30, False),
        ("国有建设用地使用权及房屋所有权转移登记", "QR", 30, False),
        ("不动产抵押权登记", "QR", 30, False),
        ("不动产变更登记", "QR", 30, False),
        ("不动产注销登记", "QR", 30, False),
        ("不动产登记资料查询", "GG", 0, True),
    ],
    "社会保险事业中心": [
        ("企业职工基本养老保险参保登记", "GG", 0, True),
        ("基本养老保险关系转移接续", "GG", 45, False),
        ("城乡居民基本养老保险待遇申领", "GF", 20, False),
        ("丧葬补助金、抚恤金申领", "GF", 20, False),
    ],
    "公共资源交易中心": [
        ("交易项目进场登记", "GG", 3, False),
        ("开评标场地预约", "GG", 0, True),
    ],
    "档案馆": [
        ("档案查阅利用", "GG", 0, True),
        ("婚姻档案证明出具", "GG", 0, True),
    ],
    "残疾人联合会": [
        ("残疾人证核发", "GG", 30, False),
        ("残疾儿童康复救助申请", "GF", 20, False),
    ],
}

# City departments in order (name, organisation category: 11 organ, 12 institution, 13 mass
# organisation). The first ``city_count`` are used.
_CITY_DEPARTMENTS: Final[list[tuple[str, str]]] = [
    ("行政审批服务局", "11"),
    ("市场监督管理局", "11"),
    ("住房和城乡建设局", "11"),
    ("公安局", "11"),
    ("民政局", "11"),
    ("人力资源和社会保障局", "11"),
    ("卫生健康委员会", "11"),
    ("交通运输局", "11"),
    ("自然资源和规划局", "11"),
    ("生态环境局", "11"),
    ("农业农村局", "11"),
    ("水务局", "11"),
    ("教育局", "11"),
    ("文化和旅游局", "11"),
    ("商务局", "11"),
    ("应急管理局", "11"),
    ("发展和改革委员会", "11"),
    ("工业和信息化局", "11"),
    ("财政局", "11"),
    ("司法局", "11"),
    ("退役军人事务局", "11"),
    ("医疗保障局", "11"),
    ("综合行政执法局", "11"),
    ("人民防空办公室", "11"),
    ("统计局", "11"),
    ("住房公积金管理中心", "12"),
    ("不动产登记中心", "12"),
    ("社会保险事业中心", "12"),
    ("公共资源交易中心", "12"),
    ("档案馆", "12"),
    ("残疾人联合会", "13"),
]

# Departments a county hall hosts, in the order they are handed out.
_COUNTY_DEPARTMENTS: Final[list[tuple[str, str]]] = [
    ("行政审批服务局", "11"),
    ("市场监督管理局", "11"),
    ("民政局", "11"),
    ("人力资源和社会保障局", "11"),
    ("卫生健康委员会", "11"),
    ("住房和城乡建设局", "11"),
    ("公安局", "11"),
    ("农业农村局", "11"),
    ("医疗保障局", "11"),
    ("不动产登记中心", "12"),
    ("社会保险事业中心", "12"),
    ("交通运输局", "11"),
]
# County health bureaus are 卫生健康局, not 委员会.
_COUNTY_NAME: Final = {"卫生健康委员会": "卫生健康局"}

_TYPES: Final = {t.abbreviation: t for t in ItemType}

# Legal bases by department (设定依据), quoted as the catalogs quote them.
_LAWS: Final[dict[str, str]] = {
    "市场监督管理局": "《中华人民共和国食品安全法》",
    "住房和城乡建设局": "《中华人民共和国建筑法》",
    "公安局": "《中华人民共和国户口登记条例》",
    "民政局": "《社会救助暂行办法》",
    "人力资源和社会保障局": "《中华人民共和国劳动合同法》",
    "卫生健康委员会": "《医疗机构管理条例》",
    "交通运输局": "《中华人民共和国道路运输条例》",
    "自然资源和规划局": "《中华人民共和国城乡规划法》",
    "生态环境局": "《中华人民共和国环境影响评价法》",
    "农业农村局": "《农药管理条例》",
    "水务局": "《中华人民共和国水法》",
    "教育局": "《中华人民共和国民办教育促进法》",
    "文化和旅游局": "《娱乐场所管理条例》",
    "商务局": "《中华人民共和国对外贸易法》",
    "应急管理局": "《危险化学品安全管理条例》",
    "发展和改革委员会": "《企业投资项目核准和备案管理条例》",
    "工业和信息化局": "《民用爆炸物品安全管理条例》",
    "财政局": "《代理记账管理办法》",
    "司法局": "《法律援助条例》",
    "退役军人事务局": "《军人抚恤优待条例》",
    "医疗保障局": "《中华人民共和国社会保险法》",
    "综合行政执法局": "《城市市容和环境卫生管理条例》",
    "人民防空办公室": "《中华人民共和国人民防空法》",
    "统计局": "《中华人民共和国统计法》",
    "行政审批服务局": "《中华人民共和国消防法》",
    "住房公积金管理中心": "《住房公积金管理条例》",
    "不动产登记中心": "《不动产登记暂行条例》",
    "社会保险事业中心": "《中华人民共和国社会保险法》",
    "公共资源交易中心": "《中华人民共和国招标投标法》",
    "档案馆": "《中华人民共和国档案法》",
    "残疾人联合会": "《中华人民共和国残疾人保障法》",
}

_VARIANTS: Final = ("", "（变更）", "（延续）", "（注销）", "（补证）")
_COMMON_MATERIALS: Final = (
    ("申请书", "electronic", None),
    ("营业执照", "paper_or_electronic", "市场监督管理部门核发"),
    ("法定代表人身份证明", "paper_or_electronic", "申请人自备"),
    ("授权委托书及经办人身份证件", "paper_or_electronic", "申请人自备"),
    ("场所使用权证明", "paper", "申请人自备"),
    ("相关技术资料", "electronic", "申请人自备"),
)
_VISIT_REASONS: Final = (
    "需现场核验申请材料原件",
    "需现场采集照片和指纹",
    "需现场签署承诺书",
    "需现场勘验经营场所",
)
_DIRTY_KINDS: Final = (
    "visits_need_reason",
    "fee_needs_basis",
    "implementation_code_prefix",
    "catalog_code_length",
    "legal_basis_missing",
)
_EPOCH: Final = date(2019, 1, 1)
_FEE_BASIS: Final = "《山东省行政事业性收费目录清单》"


@dataclass(frozen=True, slots=True)
class SampleDepartment:
    """A department of the sample city and the hall (region code) where it sits."""

    department: Department
    hall: str
    kind: str  # 表 key: the department's kind without the region prefix, e.g. 民政局

    @property
    def name(self) -> str:
        return self.department.name

    @property
    def credit_code(self) -> str:
        return str(self.department.credit_code)


@dataclass(frozen=True, slots=True)
class SampleCatalog:
    """A generated (or loaded) sample catalog: departments, halls and items."""

    seed: int
    city: str
    departments: tuple[SampleDepartment, ...]
    items: tuple[Item, ...]

    @property
    def halls(self) -> list[str]:
        """The region codes of the halls that host at least one department, city first."""
        return sorted({d.hall for d in self.departments})

    def findings(self) -> list[tuple[Item, Finding]]:
        """Every consistency finding of every item (the bundled catalog has warnings only)."""
        return [(item, f) for item in self.items for f in item.findings()]

    def to_json(self) -> str:
        """The catalog file: deterministic, one item per line, UTF-8 text with a final newline."""
        head = {
            "format": CATALOG_FORMAT,
            "generator": {
                "function": "govlink.samples.generate_catalog",
                "seed": self.seed,
                "city": self.city,
                "departments": len(self.departments),
                "items": len(self.items),
            },
        }
        lines = ["{"]
        for key, value in head.items():
            lines.append(f"{json.dumps(key)}: {_compact(value)},")
        lines.append('"departments": [')
        lines.extend(
            _compact({"credit_code": d.credit_code, "name": d.name, "hall": d.hall, "kind": d.kind})
            + ("," if i < len(self.departments) - 1 else "")
            for i, d in enumerate(self.departments)
        )
        lines.append("],")
        lines.append('"items": [')
        lines.extend(
            _compact(item.wire_dict()) + ("," if i < len(self.items) - 1 else "")
            for i, item in enumerate(self.items)
        )
        lines.append("]")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def write(self, path: str | Path) -> None:
        """Write :meth:`to_json` to ``path``.

        Raises:
            OSError: the file cannot be written.
        """
        Path(path).write_text(self.to_json(), encoding="utf-8", newline="\n")

    @classmethod
    def from_json(cls, text: str) -> SampleCatalog:
        """Read a catalog file (the format :meth:`to_json` writes); items are fully checked.

        Raises:
            ValidationError: not a catalog file, or an item breaks a structural rule or a
                consistency *error* rule (warnings are kept, see :meth:`findings`).
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"not JSON: {exc.msg} at line {exc.lineno}", field="catalog", rule="json"
            ) from None
        except RecursionError:
            raise ValidationError("nested too deeply", field="catalog", rule="depth") from None
        except ValueError as exc:  # an integer of more than 4300 digits
            raise ValidationError(
                f"not readable JSON: {exc}", field="catalog", rule="json"
            ) from None
        if not isinstance(data, dict) or data.get("format") != CATALOG_FORMAT:
            raise ValidationError(
                f'a sample catalog declares "format": "{CATALOG_FORMAT}"',
                field="format",
                rule="format",
            )
        generator = data.get("generator") or {}
        if not isinstance(generator, dict):
            raise ValidationError("must be an object", field="generator", rule="type")
        seed, city = generator.get("seed", 0), generator.get("city", "")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValidationError("must be an integer", field="generator.seed", rule="type")
        if not isinstance(city, str):
            raise ValidationError("must be a string", field="generator.city", rule="type")
        departments = []
        for i, d in enumerate(_list(data, "departments")):
            if not isinstance(d, dict):
                raise ValidationError("must be an object", field=f"departments[{i}]", rule="type")
            department = parse_model(
                Department,
                {"credit_code": d.get("credit_code"), "name": d.get("name")},
                root=f"departments[{i}]",
            )
            departments.append(SampleDepartment(department, str(d.get("hall")), str(d.get("kind"))))
        items = tuple(
            parse_item(raw, root=f"items[{i}]") for i, raw in enumerate(_list(data, "items"))
        )
        return cls(seed, city, tuple(departments), items)


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise ValidationError(f"{key} must be a list", field=key, rule="type")
    return value


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# --- generation -----------------------------------------------------------------------------


def _credit_code(rng: random.Random, head: str, region: str, taken: set[str]) -> str:
    while True:
        # Organs' organisation codes are mostly digits; keep to the characters both GB 11714
        # and GB 32100 allow.
        body = "".join(rng.choice("0123456789") for _ in range(7)) + rng.choice(
            CREDIT_CODE_ALPHABET[:10] + "ABCDEFGH"
        )
        first17 = head + region + body + organisation_code_check_character(body)
        code = first17 + credit_code_check_character(first17)
        if code not in taken:
            taken.add(code)
            return code


def _place_departments(
    rng: random.Random, count: int, city: Region, counties: Sequence[Region]
) -> list[SampleDepartment]:
    if count < 1:
        raise ValueError("a sample catalog needs at least one department")
    capacity = len(_CITY_DEPARTMENTS) + len(counties) * len(_COUNTY_DEPARTMENTS)
    if count > capacity:
        raise ValueError(f"at most {capacity} departments fit the department tables")
    city_count = min(len(_CITY_DEPARTMENTS), max(1, round(count * 5 / 9)))
    if not counties:
        city_count = count
    county_slots = count - city_count
    if county_slots > len(counties) * len(_COUNTY_DEPARTMENTS):
        city_count += county_slots - len(counties) * len(_COUNTY_DEPARTMENTS)
        county_slots = count - city_count
    taken: set[str] = set()
    placed: list[SampleDepartment] = []
    for kind, head in _CITY_DEPARTMENTS[:city_count]:
        code = _credit_code(rng, head, city.code, taken)
        name = f"{city.name}{kind}"
        placed.append(SampleDepartment(Department(credit_code=code, name=name), city.code, kind))
    for slot in range(county_slots):
        county = counties[slot % len(counties)]
        kind, head = _COUNTY_DEPARTMENTS[slot // len(counties)]
        code = _credit_code(rng, head, county.code, taken)
        name = f"{county.name}{_COUNTY_NAME.get(kind, kind)}"
        placed.append(SampleDepartment(Department(credit_code=code, name=name), county.code, kind))
    return placed


def _share(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; deterministic)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _names(kind: str) -> Iterator[tuple[str, _Entry, int]]:
    """(name, table entry, variant number) for a department kind, without end."""
    table = _ITEMS[kind]
    round_ = 0
    while True:
        for entry in table:
            if round_ < len(_VARIANTS):
                suffix = _VARIANTS[round_]
            else:
                suffix = f"（第{round_ - len(_VARIANTS) + 2}类）"
            yield entry[0] + suffix, entry, round_
        round_ += 1


def _limits(rng: random.Random, legal_days: int, spot: bool) -> tuple[Any, Any, str]:
    """(legal limit, promised limit, case kind) as wire data."""
    legal = {"amount": legal_days, "unit": "working_days"} if legal_days else None
    if spot or (legal_days and rng.random() < 0.05):
        return legal, {"unit": "on_the_spot"}, "immediate"
    if legal is None:
        return None, {"amount": rng.choice((1, 3, 5, 7)), "unit": "working_days"}, "promised"
    # Promised limits are on average about half the legal ones (domain reference §1); reductions are
    # drawn between 20% and 80%.
    promised = max(1, round(legal_days * (1 - rng.uniform(0.2, 0.8))))
    return legal, {"amount": min(promised, legal_days), "unit": "working_days"}, "promised"


def _item(
    rng: random.Random,
    dept: SampleDepartment,
    city_level: bool,
    name: str,
    entry: _Entry,
    variant: int,
    number: int,
    dirty: str | None,
) -> dict[str, Any]:
    item_type = _TYPES[entry[1]]
    catalog_code = f"{item_type.code}{number:07d}{variant:03d}"
    level = "3" if city_level else "4"
    implementation = f"{dept.credit_code}{level}{catalog_code}"
    legal, promised, case_kind = _limits(rng, entry[2], entry[3])
    depth = 4 if case_kind == "immediate" else rng.choices((4, 3, 2, 1), (50, 35, 10, 5))[0]
    visits = 0 if depth == 4 or rng.random() < 0.6 else 1
    forms = ["window"]
    if depth >= 3:
        forms.append("online")
    if rng.random() < 0.2:
        forms.append("post")
    charged = item_type is ItemType.LICENSING and rng.random() < 0.05
    materials = [
        {"name": m[0], "form": m[1], **({"source": m[2]} if m[2] else {})}
        for m in rng.sample(_COMMON_MATERIALS, rng.randint(2, 4))
    ]
    data: dict[str, Any] = {
        "catalog_code": catalog_code,
        "implementation_code": implementation,
        "handling_item_code": implementation + "001",
        "name": name,
        "item_type": item_type.value,
        "department": {"credit_code": dept.credit_code, "name": dept.name},
        "region_code": dept.hall,
        "exercise_levels": ["city", "county"] if city_level and rng.random() < 0.4 else (
            ["city"] if city_level else ["county"]
        ),
        "legal_limit": legal,
        "promised_limit": promised,
        "case_kind": case_kind,
        "on_site_visits": visits,
        "visits_reason": rng.choice(_VISIT_REASONS) if visits else None,
        "handling_forms": forms,
        "online_depth": depth,
        "unified_login": depth >= 3,
        "fee": {"charged": charged, "basis": _FEE_BASIS if charged else None},
        "special_procedures": (
            [{"kind": rng.choice(("expert_review", "on_site_survey", "hearing", "testing"))}]
            if item_type is ItemType.LICENSING and rng.random() < 0.3
            else []
        ),
        "accept_conditions": f"申请事项属于{dept.name}职权范围，申请材料齐全、符合法定形式",
        "materials": materials,
        "legal_basis": f"{_LAWS[dept.kind]}第{rng.randint(5, 60)}条",
        "state": "in_force",
        "version": rng.choice((1, 1, 1, 2, 2, 3)),
        "effective_date": (_EPOCH + timedelta(days=rng.randrange(7 * 365))).isoformat(),
    }  # fmt: skip
    roll = rng.random()
    if roll < 0.02:
        data["state"] = ItemState.ACCEPTED_FROM_PROVINCE.value
        data["exercise_levels"] = ["provincial", "city"] if city_level else ["county"]
    elif roll < 0.03 and city_level:
        data["state"] = ItemState.DELEGATED_DOWN.value
    elif roll < 0.04:
        data["state"] = ItemState.CANCELLED.value
        data["cancel_date"] = (
            date.fromisoformat(data["effective_date"]) + timedelta(days=rng.randint(30, 300))
        ).isoformat()
    if dirty == "legal_basis_missing" and item_type is ItemType.PUBLIC_SERVICE:
        dirty = "visits_need_reason"  # public services need no legal basis: dirty them otherwise
    if dirty == "visits_need_reason":
        data.update(on_site_visits=1, visits_reason=None, online_depth=3)
        data["handling_forms"] = sorted({*data["handling_forms"], "online"})
    elif dirty == "fee_needs_basis":
        data["fee"] = {"charged": True, "standard": "按规定标准收取"}
    elif dirty == "implementation_code_prefix":
        # The department was re-coded in an institutional reform (机构改革); the catalog still
        # carries implementation codes built on its old credit code.
        old = _credit_code(rng, dept.credit_code[:2], dept.hall, {dept.credit_code})
        data["implementation_code"] = f"{old}{level}{catalog_code}"
        data["handling_item_code"] = data["implementation_code"] + "001"
    elif dirty == "catalog_code_length":
        data["catalog_code"] = f"{item_type.abbreviation}{number:05d}{variant:03d}"
    elif dirty == "legal_basis_missing":
        data["legal_basis"] = None
    return data


def generate_catalog(
    *,
    seed: int = DEFAULT_SEED,
    departments: int = 54,
    items: int = 400,
    city: str = "370500",
    dirty: float = 0.03,
    regions: RegionRegistry | None = None,
) -> SampleCatalog:
    """Generate a sample catalog (see the module docstring for what it contains).

    Args:
        seed: the random seed; equal arguments give equal catalogs in any process.
        departments: number of departments across the city's halls (1 … about 90).
        items: number of items (scales to 10,000+ for benchmarks).
        city: the city's region code; its halls come from ``regions``.
        dirty: share of deliberately dirty items (consistency warnings only).
        regions: region registry (default: the bundled one).

    Raises:
        ValueError: a count out of range, or ``city`` has no halls in ``regions``.
        ValidationError: ``city`` is not a known city (from the region registry).
    """
    if items < 0 or not 0.0 <= dirty <= 1.0:
        raise ValueError("items must be ≥ 0 and dirty within 0 … 1")
    registry = regions or default_regions()
    halls = registry.halls(city)
    city_region, counties = halls[0], [h for h in halls[1:] if h.level is RegionLevel.COUNTY]
    rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not a secret
    placed = _place_departments(rng, departments, city_region, counties)
    weights = [len(_ITEMS[d.kind]) * (1.0 if d.hall == city_region.code else 0.6) for d in placed]
    counts = _share(items, weights)
    numbers: dict[str, int] = {}  # base item name → item number (shared by every hall)
    dirty_every = round(1 / dirty) if dirty > 0 else 0
    raw: list[dict[str, Any]] = []
    for dept, count in zip(placed, counts, strict=True):
        names = _names(dept.kind)
        for _ in range(count):
            name, entry, variant = next(names)
            number = numbers.setdefault(entry[0], len(numbers) + 1)
            position = len(raw) + 1
            kind = (
                _DIRTY_KINDS[(position // dirty_every) % len(_DIRTY_KINDS)]
                if dirty_every and position % dirty_every == 0
                else None
            )
            raw.append(
                _item(rng, dept, dept.hall == city_region.code, name, entry, variant, number, kind)
            )
    built = tuple(parse_item(data, root=f"items[{i}]") for i, data in enumerate(raw))
    return SampleCatalog(seed, city_region.code, tuple(placed), built)


def load_sample_catalog() -> SampleCatalog:
    """The bundled sample catalog (``generate_catalog()`` with the default arguments).

    Raises:
        ValidationError: the bundled file is damaged (a packaging error).
    """
    text = resources.files("govlink.samples").joinpath("data/catalog.json").read_text("utf-8")
    return SampleCatalog.from_json(text)
