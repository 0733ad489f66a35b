#!/usr/bin/env python3
"""Summarises one bench/sweep run directory: wall time, peak RSS, requests (total and per
bucket) per tool, the ratio, the emulator ceiling and the implied minimum time, and which
buckets each tool flags, by seeded kind."""
import json
import re
import sys
from collections import Counter
from pathlib import Path


def time_v(path):
    """(wall seconds, peak RSS MB) from /usr/bin/time -v output."""
    text = path.read_text()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
    h, m, s = wall.groups()
    secs = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return secs, rss / 1024


def cpu_v(path):
    """User + system CPU seconds of the process from /usr/bin/time -v output."""
    text = path.read_text()
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    return user + system


def cmkguard_flagged(out):
    """Buckets with a non-exempt bucket finding in `cmkguard scan --output json`."""
    data = json.loads(out.read_text())
    flagged = {}
    for f in data.get("findings", []):
        if f.get("exempt"):
            continue
        arn = f.get("resource_arn") or f.get("resource") or ""
        m = re.match(r"arn:[^:]+:s3:::([^/]+)$", arn)
        if m:
            flagged.setdefault(m.group(1), set()).add(f.get("rule_id", "?"))
    return flagged


def c7n_flagged(out_dir):
    found = list(Path(out_dir).glob("**/resources.json"))
    names = set()
    for p in found:
        names |= {r["Name"] for r in json.loads(p.read_text())}
    return names


def main():
    d = Path(sys.argv[1])
    truth = json.loads((d / "truth.json").read_text())["buckets"]
    n = len(truth)
    ceiling = json.loads((d / "ceiling.json").read_text())
    rows, flagged = [], {}
    for tool in ("cmkguard", "custodian"):
        if not (d / f"{tool}.time").exists():
            continue
        secs, rss = time_v(d / f"{tool}.time")
        cpu = cpu_v(d / f"{tool}.time")
        reqs = int((d / f"{tool}.requests").read_text())
        rows.append((tool, secs, rss, reqs, cpu))
        try:
            flagged[tool] = (set(cmkguard_flagged(d / "cmkguard.out")) if tool == "cmkguard"
                             else c7n_flagged(d / "c7n-out"))
        except (ValueError, OSError, KeyError) as e:
            print(f"{tool}: output not read: {e}")
    print(f"### Sweep of {n} buckets\n")
    print("| tool | wall s | peak RSS MB | requests | requests/bucket | CPU s (user+sys) | CPU ms/bucket | floor at emulator ceiling s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for tool, secs, rss, reqs, cpu in rows:
        print(f"| {tool} | {secs:.2f} | {rss:.0f} | {reqs} | {reqs / n:.2f} | {cpu:.2f} | "
              f"{1000 * cpu / n:.3f} | {reqs / ceiling['per_second']:.2f} |")
    for tool, secs, rss, reqs, cpu in rows:
        if tool == "cmkguard":
            # A 128 MB Lambda gets about 1/14 of a vCPU (memory-proportional CPU: 1 769 MB =
            # one vCPU): CPU seconds here are roughly 14 there, if the work is CPU-bound.
            per = cpu / n
            print(f"\ncmkguard CPU per bucket: {1000 * per:.3f} ms here; a 10 000-bucket sweep "
                  f"≈ {per * 10000:.1f} CPU s here ≈ {per * 10000 * 14:.0f} s of a 128 MB Lambda's CPU "
                  f"(1/14 vCPU), on top of waiting for S3.")
    print(f"\nEmulator ceiling: {ceiling['per_second']} simple S3 reads/s "
          f"({ceiling['requests']} GetBucketEncryption, {ceiling['threads']} threads).")
    times = {t: s for t, s, _, _, _ in rows}
    if "cmkguard" in times and "custodian" in times:
        print(f"Wall-time ratio custodian / cmkguard: {times['custodian'] / times['cmkguard']:.1f}x")
    elif "cmkguard" not in times:
        print("cmkguard scan not run (no scan subcommand in this binary).")
    else:
        print("Custodian not run (SWEEP_TOOLS=cmkguard).")
    kinds_file = d / "cmkguard-kinds.json"
    per_kind_rules = json.loads(kinds_file.read_text()) if kinds_file.exists() else {}
    print("\nFlagged buckets by seeded kind (count of buckets of that kind flagged; cmkguard "
          "handle: the rules it reports on one bucket of the kind, live, report mode):\n")
    tools = list(flagged)
    kinds = sorted(set(truth.values()))
    per_kind = Counter(truth.values())
    extra = ["cmkguard handle"] if per_kind_rules else []
    print("| kind | buckets | " + " | ".join(tools + extra) + " |")
    print("|---|---:|" + "---:|" * len(tools) + "---|" * len(extra))
    for k in kinds:
        cells = [str(sum(1 for b, kk in truth.items() if kk == k and b in flagged[t])) for t in tools]
        if per_kind_rules:
            cells.append(", ".join(per_kind_rules.get(k, {}).get("rules", [])) or "pass")
        print(f"| {k} | {per_kind[k]} | " + " | ".join(cells) + " |")
    if len(tools) == 2:
        a, b = tools
        only_a = {truth.get(x, "?") for x in flagged[a] - flagged[b]}
        only_b = {truth.get(x, "?") for x in flagged[b] - flagged[a]}
        print(f"\nOnly {a} flags kinds: {sorted(only_a)}; only {b} flags kinds: {sorted(only_b)}")


if __name__ == "__main__":
    main()
