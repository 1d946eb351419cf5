#!/usr/bin/python3
"""Writes Benchmarks/results/latest.md and its PNG charts from one Benchmarks/run.sh run.

Usage: report.py WORKDIR RESULTS_DIR COMMAND
WORKDIR holds what run.sh's steps wrote: exit-loop.md, boot.json, disk.json, net.json,
memory.json, backing.md, machine.txt, timings.txt. Charts need Debian's python3-matplotlib.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

work, results, command = sys.argv[1], sys.argv[2], sys.argv[3]


def load(name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle) if name.endswith(".json") else handle.read()


def status(ok):
    return "met" if ok else "not met"


boot, disk, net, memory = load("boot.json"), load("disk.json"), load("net.json"), load("memory.json")
exit_loop, machine, timings = load("exit-loop.md"), load("machine.txt"), load("timings.txt")
os.makedirs(results, exist_ok=True)
lines = ["# SwiftVMM benchmarks: latest run", "", f"Command: `{command}`", "", "Machine:", "", "```",
         (machine or "").strip(), "```", ""]
targets = []

# ---- Disk
if disk:
    lines += [f"## Disk: sequential throughput at depth (MiB/s, {disk['mib']} MiB per pass, cache={disk['cache']}, "
              f"median of {disk['runs']})", "",
              "ratio = SwiftVMM aio=auto / the better of QEMU aio=io_uring and aio=threads; "
              "/fio = SwiftVMM auto / fio on the same file (O_DIRECT, io_uring, same depth and block size).", "",
              "| op | request | depth | SwiftVMM auto | SwiftVMM threads | QEMU io_uring | QEMU threads | ratio | "
              "threads ratio | fio | /fio |",
              "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for row in disk["rows"]:
        lines.append(f"| {row['op']} | {row['request_kib']} KiB | {row['depth']} | {row['SwiftVMM auto']:.1f} | "
                     f"{row['SwiftVMM threads']:.1f} | {row['QEMU io_uring']:.1f} | {row['QEMU threads']:.1f} | "
                     f"{row['ratio_qemu']:.2f} | {row['ratio_threads_qemu']:.2f} | {row['fio']:.1f} | "
                     f"{row['ratio_fio']:.2f} |")
    lines.append("")
    worst = min(disk["rows"], key=lambda row: row["ratio_qemu"])
    targets.append(("Disk: every row ≥ 1.1× QEMU's best",
                    f"lowest {worst['ratio_qemu']:.2f} ({worst['op']} {worst['request_kib']} KiB qd{worst['depth']})",
                    status(worst["ratio_qemu"] >= 1.1)))
    large = [row for row in disk["rows"] if row["request_kib"] == 1024]
    if large:
        low = min(large, key=lambda row: row["ratio_fio"])
        targets.append(("Disk: 1 MiB ≥ 0.9× fio", f"lowest {low['ratio_fio']:.2f} ({low['op']} qd{low['depth']})",
                        status(low["ratio_fio"] >= 0.9)))
    ops = sorted({row["op"] for row in disk["rows"]}, key=["read", "write"].index)
    sizes = sorted({row["request_kib"] for row in disk["rows"]})
    figure, axes = plt.subplots(len(ops), len(sizes), figsize=(4.2 * len(sizes), 3.4 * len(ops)), squeeze=False)
    series = ["SwiftVMM auto", "SwiftVMM threads", "QEMU io_uring", "QEMU threads", "fio"]
    for i, op in enumerate(ops):
        for j, size in enumerate(sizes):
            axis = axes[i][j]
            rows = [row for row in disk["rows"] if row["op"] == op and row["request_kib"] == size]
            depths = [row["depth"] for row in rows]
            width = 0.8 / len(series)
            for k, name in enumerate(series):
                axis.bar([d + (k - 2) * width for d in range(len(depths))], [row[name] for row in rows], width,
                         label=name)
            axis.set_xticks(range(len(depths)), [f"qd{d}" for d in depths])
            axis.set_title(f"{op}, {size} KiB requests")
            axis.set_ylabel("MiB/s")
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(os.path.join(results, "disk.png"), dpi=90)
    lines += ["![disk throughput by depth](disk.png)", ""]

# ---- Network
if net:
    s, q = net["medians"]["SwiftVMM"], net["medians"]["QEMU"]
    lines += [f"## Network (median of {net['runs']}; UDP {net['mib']} MiB of 1400-byte datagrams each way)", "",
              "| | ping average | UDP guest → host | lost | UDP host → guest | rx lost |", "|---|--:|--:|--:|--:|--:|"]
    for name, m in [("SwiftVMM", s), ("QEMU", q)]:
        lines.append(f"| {name} | {m['ping_ms']:.3f} ms | {m['tx_mib_s']:.1f} MiB/s | {m['tx_lost']} | "
                     f"{m['rx_mib_s']:.1f} MiB/s | {m['rx_lost']} |")
    lines += [f"| SwiftVMM/QEMU | {s['ping_ms'] / q['ping_ms']:.2f} | {s['tx_mib_s'] / q['tx_mib_s']:.2f} | | "
              f"{s['rx_mib_s'] / q['rx_mib_s']:.2f} | |", ""]
    targets.append(("Network: UDP guest → host ≥ 1.2× QEMU", f"{s['tx_mib_s'] / q['tx_mib_s']:.2f}",
                    status(s["tx_mib_s"] / q["tx_mib_s"] >= 1.2)))
    targets.append(("Network: UDP host → guest ≥ 1.2× QEMU", f"{s['rx_mib_s'] / q['rx_mib_s']:.2f}",
                    status(s["rx_mib_s"] / q["rx_mib_s"] >= 1.2)))
    targets.append(("Network: ping ≤ QEMU's", f"{s['ping_ms'] / q['ping_ms']:.2f}", status(s["ping_ms"] <= q["ping_ms"])))
    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.bar([0, 1], [s["tx_mib_s"], q["tx_mib_s"]], 0.35, label="guest → host")
    left.bar([0.35, 1.35], [s["rx_mib_s"], q["rx_mib_s"]], 0.35, label="host → guest")
    left.set_xticks([0.175, 1.175], ["SwiftVMM", "QEMU"])
    left.set_ylabel("UDP MiB/s")
    left.legend(fontsize=7)
    right.bar(["SwiftVMM", "QEMU"], [s["ping_ms"], q["ping_ms"]])
    right.set_ylabel("ping round trip, ms")
    figure.tight_layout()
    figure.savefig(os.path.join(results, "network.png"), dpi=90)
    lines += ["![network](network.png)", ""]

# ---- Memory
if memory:
    lines += [f"## Memory (idle firmware with a disk, median of {memory['runs']}; MiB)", "",
              "overhead = RSS − the guest RAM mapping's RSS (what the VMM costs beyond the guest memory the guest "
              "touched).", "",
              "| VMM | guest | RSS | PSS | anonymous | guest RSS | overhead | anonymous overhead |",
              "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for row in memory["rows"]:
        lines.append(f"| {row['vmm']} | {row['guest_mib']} MiB | {row['rss_kib'] / 1024:.1f} | "
                     f"{row['pss_kib'] / 1024:.1f} | {row['anon_kib'] / 1024:.1f} | {row['guest_rss_kib'] / 1024:.1f} | "
                     f"{row['overhead_kib'] / 1024:.1f} | {row['anon_overhead_kib'] / 1024:.1f} |")
    lines.append("")
    swift = [row for row in memory["rows"] if row["vmm"] == "SwiftVMM"]
    worst = max(row["overhead_kib"] for row in swift) / 1024
    targets.append(("Memory: RSS − touched guest memory ≤ 8 MiB", f"{worst:.1f} MiB", status(worst <= 8)))
    figure, axis = plt.subplots(figsize=(7, 3.2))
    labels = [f"{row['vmm']}\n{row['guest_mib']} MiB" for row in memory["rows"]]
    positions = range(len(labels))
    axis.bar([p - 0.2 for p in positions], [row["overhead_kib"] / 1024 for row in memory["rows"]], 0.4,
             label="RSS overhead")
    axis.bar([p + 0.2 for p in positions], [row["anon_overhead_kib"] / 1024 for row in memory["rows"]], 0.4,
             label="anonymous overhead")
    axis.set_xticks(list(positions), labels)
    axis.set_ylabel("MiB beyond the guest's memory")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(os.path.join(results, "memory.png"), dpi=90)
    lines += ["![memory](memory.png)", ""]

# ---- Guest memory backings
backing = load("backing.md")
if backing:
    table = [line for line in backing.splitlines() if line.startswith("|")]
    lines += ["## Guest memory backings (Benchmarks/memory/backing.py: spawn → fw: ready, and memory while the "
              "firmware waits)", ""] + table + [""]

# ---- Boot
if boot:
    s, q = boot["medians"]["SwiftVMM"], boot["medians"]["QEMU"]
    ratio = s["ready_ms"] / q["ready_ms"]
    lines += [f"## Boot to the firmware's ready line (median of {boot['runs']}, {boot['cpus']} vCPU)", "",
              "| | spawn → fw: ready | spawn → exit |", "|---|--:|--:|",
              f"| SwiftVMM | {s['ready_ms']:.1f} ms | {s['exit_ms']:.1f} ms |",
              f"| QEMU | {q['ready_ms']:.1f} ms | {q['exit_ms']:.1f} ms |",
              f"| SwiftVMM/QEMU | {ratio:.2f} | {s['exit_ms'] / q['exit_ms']:.2f} |", ""]
    targets.append(("Boot to ready ≤ 0.5× QEMU", f"{ratio:.3f}", status(ratio <= 0.5)))

# ---- Exit loop
if exit_loop:
    table = [line for line in exit_loop.splitlines() if line.startswith("|")]
    lines += ["## vCPU exit loop (SwiftVMM's Machine vs a plain C KVM_RUN loop; Benchmarks/run-exit-loop.sh)", ""]
    lines += table + [""]

summary = ["## Targets (issue 15)", "", "| target | measured | |", "|---|---|---|"]
summary += [f"| {name} | {value} | {verdict} |" for name, value, verdict in targets]
summary.append("")
if timings:
    summary += ["Stage times (s): " + timings.strip().replace("\n", ", "), ""]
header_end = 9
lines[header_end:header_end] = summary
with open(os.path.join(results, "latest.md"), "w") as handle:
    handle.write("\n".join(lines))
print(f"wrote {os.path.join(results, 'latest.md')}")
