#!/usr/bin/env python3
"""Samples a process and all its descendants from /proc until it exits.

    proctree.py PID INTERVAL_S OUT.json

Benchmarks only (scripts/bench-harness.sh `share` and `rss`): prints nothing,
writes OUT.json at the end with
  cpu_s:   user + sys seconds per command name (`comm`), each pid's last
           sample summed once (a pid's ticks are its own, never its
           children's, so nothing is counted twice; what a pid spent after
           its last sample, at most INTERVAL_S, is missed),
  rss_kib: the root pid's VmRSS series, [seconds since start, KiB].
Reads /proc only; never signals or waits on anything.
"""
import json
import os
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def stat(pid):
    """(comm, ppid, utime + stime ticks) of pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1 : s.rindex(")")]
    rest = s[s.rindex(")") + 2 :].split()
    return comm, int(rest[1]), int(rest[11]) + int(rest[12])


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    root, interval, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    last = {}  # pid -> (comm, ticks)
    rss = []
    t0 = time.monotonic()
    while os.path.exists(f"/proc/{root}"):
        procs = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                st = stat(int(d))
                if st:
                    procs[int(d)] = st
        tree, grew = {root}, True
        while grew:
            grew = False
            for pid, (_, ppid, _) in procs.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree:
            if pid in procs:
                comm, _, ticks = procs[pid]
                last[pid] = (comm, ticks)
        r = rss_kib(root)
        if r is not None:
            rss.append([round(time.monotonic() - t0, 2), r])
        time.sleep(interval)
    cpu = {}
    for comm, ticks in last.values():
        cpu[comm] = cpu.get(comm, 0.0) + ticks / HZ
    with open(out, "w") as f:
        json.dump({"cpu_s": cpu, "rss_kib": rss}, f)


main()
