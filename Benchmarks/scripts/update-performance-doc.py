#!/usr/bin/python3
"""Copies the tables of Benchmarks/results/latest.md into docs/performance.md, so that the
performance page shows one run of Benchmarks/run.sh and nothing typed by hand.

A table of the page is replaced when its header line is the header line of a table in latest.md
(the targets, the disk matrix, the network, the memory, the boot and the memory-backing
tables). The prose around them (the run's date, what moved) stays the author's to write. Prints
each table it replaced.

Usage: update-performance-doc.py [LATEST_MD] [PAGE_MD]
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
latest_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "results", "latest.md")
page_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "..", "docs", "performance.md")


def tables(lines):
    """(start, end) line ranges of the Markdown tables in `lines`."""
    found, start = [], None
    for index, line in enumerate(lines + [""]):
        if line.startswith("|") and start is None:
            start = index
        elif not line.startswith("|") and start is not None:
            found.append((start, index))
            start = None
    return found


with open(latest_path) as handle:
    latest = handle.read().splitlines()
with open(page_path) as handle:
    page = handle.read().splitlines()

by_header = {latest[start]: latest[start:end] for start, end in tables(latest)}
replaced = 0
for start, end in reversed(tables(page)):
    header = page[start]
    if header in by_header:
        page[start:end] = by_header[header]
        replaced += 1
        print(f"replaced: {header[:70]}")
with open(page_path, "w") as handle:
    handle.write("\n".join(page) + "\n")
print(f"{replaced} tables from {os.path.relpath(latest_path)}")
