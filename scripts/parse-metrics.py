#!/usr/bin/python3
"""Parses a /metrics page (stdin) with the prometheus_client library's parser (Debian's
python3-prometheus-client) and prints one JSON object: {"name{label=value,...}": value, ...}
(labels sorted). With --openmetrics the page is parsed as OpenMetrics (which needs its `# EOF`).
Exits non-zero, with the parser's message, when the page does not parse or a metric family has
no HELP text (`promtool check metrics` asks for one). Used by the tests."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as prometheus_families

text = sys.stdin.read()
parse = openmetrics_families if "--openmetrics" in sys.argv[1:] else prometheus_families
samples = {}
try:
    for family in parse(text):
        if not family.documentation:
            raise ValueError(f"metric family {family.name} has no HELP text")
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
except Exception as error:  # the parser's message is the finding
    print(f"parse error: {error}", file=sys.stderr)
    sys.exit(1)
json.dump(samples, sys.stdout, sort_keys=True)
