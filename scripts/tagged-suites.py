#!/usr/bin/env python3
"""Prints the names of the test suites (Swift Testing @Suite types under Tests/) tagged with
any of the tags given, one per line: scripts/test.sh --fast skips them by name, since
`swift test` filters by name only.

usage: scripts/tagged-suites.py TAG [TAG ...]   (e.g. nested podman slow)
"""
import pathlib
import re
import sys

SUITE = re.compile(r"@Suite\((?P<traits>(?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)\s*(?:final\s+)?(?:struct|class|enum|actor)\s+(?P<name>\w+)", re.S)
TAGS = re.compile(r"\.tags\((?P<tags>[^)]*)\)")


def tagged_suites(root: pathlib.Path, wanted: set[str]) -> list[str]:
    names = []
    for path in sorted(root.glob("Tests/**/*.swift")):
        for match in SUITE.finditer(path.read_text()):
            for tags in TAGS.finditer(match.group("traits")):
                found = {tag.strip().lstrip(".") for tag in tags.group("tags").split(",")}
                if found & wanted:
                    names.append(match.group("name"))
    return sorted(set(names))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for name in tagged_suites(pathlib.Path(__file__).resolve().parent.parent, set(sys.argv[1:])):
        print(name)
