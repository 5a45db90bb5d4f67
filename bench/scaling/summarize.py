#!/usr/bin/python3
"""Summarises bench/scaling/run.sh output: medians over repeated runs, queries/s interpolated at fixed recall,
memory per vector, and (with --plots DIR, python3-matplotlib) one recall-vs-queries/s plot per size and dimension.

    /usr/bin/python3 bench/scaling/summarize.py /tmp/quant-data/scaling.jsonl [--plots docs/images] > summary.md
(Debian's python3 with python3-matplotlib for the plots.)
"""
import json
import statistics
import sys
from collections import defaultdict

TARGETS = (0.95, 0.99)


def load(path):
    groups = defaultdict(list)
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        key = (r["size"], r["dim"], r.get("data", "clustered"), r["build_threads"], r["run"])
        groups[key].append(r)
    return groups


def median_curve(rows, field, which="runs"):
    """Per ef: median recall and median queries/s over the repeated runs."""
    by_ef = defaultdict(lambda: ([], []))
    for r in rows:
        for x in r.get(which) or []:
            by_ef[x["ef"]][0].append(x["recall_at_10"])
            by_ef[x["ef"]][1].append(x[field])
    return [(ef, statistics.median(rc), statistics.median(q)) for ef, (rc, q) in sorted(by_ef.items())]


def qps_at(curve, target):
    """Queries/s at a recall, interpolated linearly between the two ef values around it (on the Pareto front)."""
    front = []
    for ef, recall, qps in sorted(curve, key=lambda c: c[1]):
        front = [p for p in front if p[2] > qps] + [(ef, recall, qps)]
    for (e0, r0, q0), (e1, r1, q1) in zip(front, front[1:]):
        if r0 <= target <= r1:
            return q0 if r1 == r0 else q0 + (q1 - q0) * (target - r0) / (r1 - r0)
    if front and front[0][1] >= target:
        return front[0][2]
    return None


def fmt(x, digits=0):
    return "—" if x is None else f"{x:,.{digits}f}"


def main():
    path = sys.argv[1]
    plots = sys.argv[sys.argv.index("--plots") + 1] if "--plots" in sys.argv else None
    groups = load(path)
    datasets = sorted({k[:4] for k in groups})
    for size, dim, data, threads in datasets:
        print(f"\n#### {size:,} × {dim}-d, {data}, {threads} build thread(s)\n")
        print("| run | runs | build s (wall) | build CPU-s | peak RSS MB | index MB | index B/vector | vectors+links B/vector | "
              + " | ".join(f"q/CPU-s @ {t}" for t in TARGETS) + " | " + " | ".join(f"q/s @ {t}" for t in TARGETS)
              + " | max recall |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * (2 * len(TARGETS)) + "---:|")
        series = []
        for key in sorted(k for k in groups if k[:4] == (size, dim, data, threads)):
            rows = groups[key]
            run = key[4]
            build = statistics.median(r["build_seconds"] for r in rows)
            build_cpu = statistics.median(r["build_cpu_seconds"] for r in rows)
            peak = statistics.median(r["peak_memory_mb"] for r in rows)
            index_mb = statistics.median(r.get("index_memory_mb") or 0 for r in rows)
            payload = [r["vectors_and_links_mb"] for r in rows if r.get("vectors_and_links_mb")]
            payload_b = fmt(statistics.median(payload) * 1048576 / size) if payload else "—"
            for which, label in (("runs", run), ("reranked_runs", run + " re-ranked")):
                cpu_curve = median_curve(rows, "qps_cpu", which)
                wall_curve = median_curve(rows, "qps", which)
                if not cpu_curve:
                    continue
                series.append((label, cpu_curve))
                cells = [fmt(qps_at(cpu_curve, t)) for t in TARGETS] + [fmt(qps_at(wall_curve, t)) for t in TARGETS]
                print(f"| {label} | {len(rows)} | {build:.1f} | {build_cpu:.1f} | {peak:,.0f} | {index_mb:,.1f} | "
                      f"{index_mb * 1048576 / size:,.0f} | {payload_b} | " + " | ".join(cells) + f" | {max(c[1] for c in cpu_curve):.4f} |")
        print("\nPer ef (median recall@10 / median queries per CPU-second):\n")
        efs = sorted({c[0] for _, curve in series for c in curve})
        print("| run | " + " | ".join(str(e) for e in efs) + " |")
        print("|---|" + "---:|" * len(efs))
        for label, curve in series:
            d = {c[0]: c for c in curve}
            print(f"| {label} | " + " | ".join(f"{d[e][1]:.3f} / {d[e][2]:,.0f}" if e in d else "" for e in efs) + " |")
        if plots and len(series) >= 3:  # a plot only where it says more than the table
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            fig, ax = plt.subplots(figsize=(7, 4.5))
            for label, curve in series:
                pts = [c for c in curve if c[1] >= 0.85]
                style = "-" if label.startswith("ours") else "--"
                ax.plot([c[1] for c in pts], [c[2] for c in pts], style, marker="o", markersize=3, label=label)
            ax.set_xlabel("recall@10")
            ax.set_ylabel("queries per CPU-second (1 thread)")
            ax.set_yscale("log")
            ax.set_title(f"{size:,} × {dim}-d {data}, M 16, efC 200")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
            fig.tight_layout()
            name = f"{plots}/scaling-{dim}d-{size}-{data}-t{threads}.png"
            fig.savefig(name, dpi=90)
            print(f"\n![recall vs queries/s, {size:,} × {dim}-d]({name.split('docs/')[-1]})")


if __name__ == "__main__":
    main()
