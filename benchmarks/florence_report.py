"""The markdown table of BENCHMARKS.md's Florence-2 section from benchmarks/florence.sh's results:
per contender the median over its rows (one row per round) of each figure, vlm4j's median divided by
each other contender's, and the range of the 1-minute load average at the start and end of its runs.

    python3 benchmarks/florence_report.py benchmarks/results/florence.csv benchmarks/results/florence-load.csv
"""
import collections
import csv
import statistics
import sys

FIGURES = [("load_ms", "load ms", 0), ("preprocess_ms", "preprocess ms", 0), ("vision_ms", "vision ms", 0),
           ("prefill_ms", "encoder + first step ms (prefill)", 0), ("ttft_ms", "TTFT ms", 0),
           ("decode_tok_s", "decode tokens/s", 1), ("total_ms", "total ms", 0),
           ("peak_rss_mib", "peak RSS MiB", 0), ("ttft_cpu_ms", "CPU ms to first token (all threads)", 0),
           ("decode_cpu_ms_per_token", "CPU ms per decode step (all threads)", 1)]

rows = collections.defaultdict(list)
for r in csv.DictReader(open(sys.argv[1])):
    rows[r["contender"]].append(r)
loads = collections.defaultdict(list)
if len(sys.argv) > 2:
    for r in csv.DictReader(open(sys.argv[2])):
        loads[r["contender"]] += [float(r["load_start"].split()[0]), float(r["load_end"].split()[0])]
who = sorted(rows, key=lambda w: (not w.startswith("vlm4j"), w))
med = {w: {k: statistics.median(float(r[k]) for r in rows[w]) for k, _, _ in FIGURES} for w in who}
others = [w for w in who if not w.startswith("vlm4j")] if who and who[0].startswith("vlm4j") else []
blank = " |" * len(others) + " |"
print("| figure (median of rounds) | " + " | ".join(who) + "".join(f" | {who[0]} / {w}" for w in others) + " |")
print("|---|" + "---|" * (len(who) + len(others)))
for k, label, digits in FIGURES:
    cells = [f"{med[w][k]:,.{digits}f}" for w in who] + [f"**{med[who[0]][k] / med[w][k]:.2f}**" for w in others]
    print(f"| {label} | " + " | ".join(cells) + " |")
print("| rounds | " + " | ".join(str(len(rows[w])) for w in who) + blank)
print("| 1-min load average, min–max over the runs | "
      + " | ".join(f"{min(loads[w]):.2f}–{max(loads[w]):.2f}" if loads[w] else "—" for w in who) + blank)
