"""Writes docs/samples/zg_roster_sample.xlsx and .csv: small, fictional, with valid 身份证号.

Run: .venv/bin/python -m shebao.self_managed.tests.make_samples
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from shebao.common.identity import check_char

ROOT = Path(__file__).resolve().parents[3] / "docs" / "samples"


def idn(first17: str) -> str:
    return first17 + check_char(first17)


# 身份证号, 姓名, [(项目, 月金额, 开始年月)], 状态, 开户银行, 银行账号, 户名, 工龄, 镇街道, 联系电话, 备注
PEOPLE = [
    (idn("33028219480312001"), "胡阿毛", [("基本养老金", "2350.00", "2024-01"), ("统筹外补贴", "180.00", "2024-01"),
                                        ("生活补贴", "60.00", "2024-01")],
     "正常", "中国工商银行", "6222023901000012345", "胡阿毛", "32", "浒山街道", "13805741234", ""),
    (idn("33028219510707002"), "孙雅琴", [("基本养老金", "1980.50", "2024-01"), ("统筹外补贴", "150.00", "2024-01")],
     "正常", "慈溪农商银行", "6230910299001234567", "孙雅琴", "28.5", "观海卫镇", "0574-63012345", ""),
    (idn("33028219440215003"), "岑国良", [("基本养老金", "2680.00", "2024-06"), ("统筹外补贴", "210.00", "2024-06"),
                                        ("生活补贴", "80.00", "2024-06")],
     "正常", "中国农业银行", "6228480329001122334", "岑国良", "38", "周巷镇", "13906749876", "原企业退休"),
    (idn("33028219560920004"), "徐美娟", [("基本养老金", "1820.00", "2025-01")],
     "暂停", "中国邮政储蓄银行", "6217992900012345678", "徐美娟", "20", "龙山镇", "", "暂停待核实"),
    (idn("33028219500101005"), "陈志刚", [("基本养老金", "2100.00", "2024-03"), ("统筹外补贴", "160.00", "2024-03")],
     "正常", "宁波银行", "6223160012345678901", "陈志刚", "30", "宗汉街道", "13757412345", ""),
]


def rows() -> list[list]:
    out = []
    for number, name, items, status, bank, account, holder, years, town, phone, note in PEOPLE:
        for item, amount, month in items:
            out.append([number, name, item, Decimal(amount), month, status, bank, account, holder, Decimal(years),
                        town, phone, note])
    return out


def main() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SHEBAO_DEBUG", "1")
    django.setup()
    from shebao.self_managed.roster import write_roster

    ROOT.mkdir(parents=True, exist_ok=True)
    with (ROOT / "zg_roster_sample.xlsx").open("wb") as fh:
        write_roster(fh, rows(), fmt="xlsx")
    with (ROOT / "zg_roster_sample.csv").open("wb") as fh:
        write_roster(fh, rows(), fmt="csv")


if __name__ == "__main__":
    main()
