"""Write the demo town's workbook (and optionally a CSV folder).

A thin wrapper over :mod:`fengqiao.demo`; ``make demo`` runs it. The same seed
always gives the same bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fengqiao.demo import PLANTED_DEFECTS, generate_town, write_csv_folder, write_workbook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="生成演示乡镇（枫溪镇）的台账。")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("demo_town.xlsx"),
                        help="输出的 Excel 文件（默认 examples/demo_town.xlsx）")
    parser.add_argument("--seed", type=int, default=7, help="随机种子（默认 7）")
    parser.add_argument("--town", default="枫溪镇", help="乡镇名称（默认 枫溪镇）")
    parser.add_argument("--scale", type=float, default=1.0, help="记录数量的倍数（默认 1）")
    parser.add_argument("--csv", type=Path, default=None, help="另外写出一个 CSV 文件夹")
    parser.add_argument("--no-defects", action="store_true", help="不预设错误")
    parser.add_argument("--personal-data", action="store_true",
                        help="在敏感列里放入虚构的姓名、手机号和身份证号（用于隐私测试）")
    args = parser.parse_args(argv)
    tables = generate_town(args.seed, town=args.town, scale=args.scale,
                           defects=not args.no_defects, personal_data=args.personal_data)
    write_workbook(tables, args.out)
    print(f"已生成 {args.out}（纠纷 {len(tables['disputes'])} 起，走访 {len(tables['visits'])} 次）")
    if not args.no_defects:
        print(f"预设错误 {len(PLANTED_DEFECTS)} 处")
    if args.csv:
        write_csv_folder(tables, args.csv)
        print(f"已生成 CSV 文件夹 {args.csv}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
