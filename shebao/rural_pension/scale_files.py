"""Legacy files at scale, to measure the import: ``python -m shebao.rural_pension.scale_files OUT
[--persons 75000] [--seed 1]`` writes persons.csv, contributions.csv (≈ 30 years × 2.2 rows a person),
payouts.csv and rates.csv in the import's layout (UTF-8), with a few bad rows of each kind mixed in
(so the run shows rejections and a reconciliation that balances). No Django needed."""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

from shebao.common.identity import check_char
from shebao.demo.names import SURNAMES

TOWNS = {"浒山街道": ["虞波社区", "三北社区"], "观海卫镇": ["鸣鹤村", "卫东村"], "周巷镇": ["周巷村", "天潭村"],
         "龙山镇": ["龙头场村", "东渡村"], "坎墩街道": ["坎墩社区", "沈五村"]}
GIVEN = "阿国建秀英明华芳海军伟丽敏强林平金根兴娟萍"


def write(out: Path, persons: int, seed: int) -> dict:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    surnames = list(SURNAMES)
    rates = {y: f"0.{rng.randint(100, 800):04d}" for y in range(1993, 2026)}
    with (out / "rates.csv").open("w", encoding="utf-8") as f:
        f.write("年度,记账利率\n")
        for y, r in rates.items():
            f.write(f"{y},{r}\n")
    n_contrib = n_pay = 0
    with (out / "persons.csv").open("w", encoding="utf-8") as fp, \
         (out / "contributions.csv").open("w", encoding="utf-8") as fc, \
         (out / "payouts.csv").open("w", encoding="utf-8") as fo:
        fp.write("身份证号,姓名,性别,出生日期,镇街道,村,参保日期,状态,开户银行,银行账号\n")
        fc.write("身份证号,年月,类别,金额\n")
        fo.write("身份证号,年月,类别,金额\n")
        for i in range(persons):
            born = dt.date(1955, 1, 1) + dt.timedelta(days=rng.randrange(365 * 20))
            # unique for any i < 10^7: the area digits carry i // 1000, the sequence i % 1000
            first17 = f"33{(i // 1000) % 100:02d}{(i // 100_000) % 100:02d}{born:%Y%m%d}{i % 1000:03d}"
            number = first17 + check_char(first17)
            male = int(number[16]) % 2 == 1
            name = rng.choice(surnames) + rng.choice(GIVEN) + rng.choice(GIVEN)
            town = rng.choice(list(TOWNS))
            village = rng.choice(TOWNS[town])
            y0 = 1993
            y1 = 2022
            receiving = born.year + 60 <= 2022 and rng.random() < 0.3
            if receiving:
                y1 = born.year + 60
            fp.write(f"{number},{name},{'男' if male else '女'},{born:%Y-%m-%d},{town},{village},{y0}-01-{rng.randint(1, 28):02d},"
                     f"{'领取' if receiving else '缴费'},慈溪农商银行,62309{i:011d}\n")
            level = 2 + 2 * rng.randrange(10)
            for y in range(y0, y1 + 1):
                base = round(level * 12 * (1 + (y - 1993) * 0.12))
                fc.write(f"{number},{y}{rng.randint(1, 12):02d},个人缴费,{base}.00\n")
                n_contrib += 1
                if rng.random() < 0.85:
                    fc.write(f"{number},{y}{rng.randint(1, 12):02d},集体补助,{base * rng.randint(20, 50) // 100}.50\n")
                    n_contrib += 1
                if rng.random() < 0.3:
                    fc.write(f"{number},{y}{rng.randint(1, 12):02d},其他,{rng.randint(10, 99)}.00\n")
                    n_contrib += 1
            if receiving:
                for m in range(1, 13):
                    fo.write(f"{number},{y1 + 1}{m:02d},养老金,{level * 3}.25\n")
                    n_pay += 1
            if i % 10_000 == 7:  # bad rows of each kind, so the reconciliation has something to balance
                fc.write(f"{number},{y0}13,个人缴费,10.00\n")
                fc.write(f"{number},{y0}02,赞助,10.00\n")
                fc.write(f"{number},{y0}03,个人缴费,-1.00\n")
                fc.write(f"{number[:-1]}{'0' if number[-1] != '0' else '1'},{y0}04,个人缴费,1.00\n")
                n_contrib += 4
    return {"persons": persons, "contributions": n_contrib, "payouts": n_pay}


def main() -> None:
    p = argparse.ArgumentParser(description="老农保导入文件（规模测试用）")
    p.add_argument("out")
    p.add_argument("--persons", type=int, default=75_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    print(write(Path(args.out), args.persons, args.seed))


if __name__ == "__main__":
    main()
