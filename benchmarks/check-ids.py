"""Checks a benchmark's ids file (benchmarks/qwen.sh, benchmarks/families.sh): lines
`CONTENDER[-prompt] SIZE THREADS: id,id,...`, one per process; every contender's prompt ids and
generated ids must agree per (image size, threads). Prints one line per group; exit status 1 if any
group differs. With --require A,B,... every group must also have lines from each of those contenders
(A-prompt for prompt ids), so that a contender that failed cannot pass the check by its absence.

    python3 benchmarks/check-ids.py benchmarks/results/qwen-ids.txt
    python3 benchmarks/check-ids.py benchmarks/results/families-gemma3-ids.txt --require vlm4j,transformers.js
"""
import sys, collections
need = sys.argv[sys.argv.index("--require") + 1].split(",") if "--require" in sys.argv else []
groups = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    head, ids = line.rstrip("\n").split(": ", 1)
    who, size, threads = head.split(" ")
    kind = "prompt" if who.endswith("-prompt") else "generated"
    groups[(size, threads, kind)].setdefault(who, set()).add(ids)
bad = 0
for key, by in sorted(groups.items()):
    missing = [w for w in need if (w + "-prompt" if key[2] == "prompt" else w) not in by]
    same = len(set().union(*by.values())) == 1 and not missing
    bad += not same
    print(f"{'ok  ' if same else 'FAIL'} {key[0]} {key[1]} thread(s) {key[2]} ids: {', '.join(sorted(by))}"
          + (f" (missing: {', '.join(missing)})" if missing else "")
          + (" identical" if len(set().union(*by.values())) == 1 else " differ"))
sys.exit(1 if bad else 0)
