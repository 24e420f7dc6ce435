#!/usr/bin/env python3
"""Timing helpers for bench/run.sh.

  timing.py measure OUT.json RUNS WARMUP -- COMMAND [ARGS...]
      Run COMMAND WARMUP times unmeasured, then RUNS times measured (stdin,
      stdout and stderr on /dev/null); write the wall-clock times in seconds as
      {"results": [{"command": ..., "times": [...]}]}, the shape hyperfine's
      --export-json writes, so the table below reads either. Used when
      hyperfine is not installed.

  timing.py table [--ratio-budget LABEL=MAX] [--median-budget-ms MAX] FIRST=FILE.json [LABEL=FILE.json ...]
      Print runs, median and p90 (ms) of each measurement, then the ratio of
      the FIRST median (reins) to each of the others, then the budget lines:
      FIRST/LABEL <= MAX, and FIRST's median <= MAX ms.
"""
import json
import math
import subprocess
import sys
import time


def measure(out_path, runs, warmup, command):
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        result = subprocess.run(command, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            print(f"timing: {command[0]} exited with {result.returncode}", file=sys.stderr)
            return 1
        if i >= warmup:
            times.append(elapsed)
    with open(out_path, "w") as out:
        json.dump({"results": [{"command": " ".join(command), "times": times}]}, out)
    return 0


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def median(sorted_values):
    n = len(sorted_values)
    middle = n // 2
    if n % 2:
        return sorted_values[middle]
    return (sorted_values[middle - 1] + sorted_values[middle]) / 2


def verdict(ok):
    return "within budget" if ok else "OVER BUDGET"


def table(args):
    ratio_budgets = {}
    median_budget_ms = None
    pairs = []
    while args:
        arg = args.pop(0)
        if arg == "--ratio-budget":
            label, _, limit = args.pop(0).partition("=")
            ratio_budgets[label] = float(limit)
        elif arg == "--median-budget-ms":
            median_budget_ms = float(args.pop(0))
        else:
            pairs.append(arg)
    rows = []
    for pair in pairs:
        label, _, path = pair.partition("=")
        with open(path) as f:
            times = sorted(json.load(f)["results"][0]["times"])
        rows.append((label, len(times), median(times) * 1e3, percentile(times, 0.9) * 1e3))
    width = max(len(r[0]) for r in rows)
    print(f"  {'':<{width}}  {'runs':>5}  {'median ms':>10}  {'p90 ms':>9}")
    for label, runs, p50, p90 in rows:
        print(f"  {label:<{width}}  {runs:>5}  {p50:>10.2f}  {p90:>9.2f}")
    first_label, _, first_median, _ = rows[0]
    for label, _, p50, _ in rows[1:]:
        print(f"  ratio {first_label}/{label}: {first_median / p50:.3f}")
    medians = {label: p50 for label, _, p50, _ in rows}
    for label, limit in ratio_budgets.items():
        if label in medians:
            ratio = first_median / medians[label]
            print(f"  budget: {first_label}/{label} <= {limit:.1f}: {ratio:.3f}, "
                  f"{verdict(ratio <= limit)}")
        else:
            print(f"  budget: {first_label}/{label} <= {limit:.1f}: not measured ({label} unavailable)")
    if median_budget_ms is not None:
        print(f"  budget: {first_label} median <= {median_budget_ms:g} ms: {first_median:.2f} ms, "
              f"{verdict(first_median <= median_budget_ms)}")
    return 0


def main(argv):
    if len(argv) >= 7 and argv[1] == "measure" and argv[5] == "--":
        return measure(argv[2], int(argv[3]), int(argv[4]), argv[6:])
    if len(argv) >= 3 and argv[1] == "table":
        return table(list(argv[2:]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
