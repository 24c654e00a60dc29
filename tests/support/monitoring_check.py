#!/usr/bin/env python3
"""Checks the Grafana dashboard and the Prometheus rules shipped in docs/ against a running fabric.

Usage: tests/support/monitoring_check.py DASHBOARD RULES METRICS WORK_DIR

* `promtool check rules` on RULES;
* every PromQL expression of DASHBOARD (panel targets, in rows too) parsed by promtool: they
  are written to WORK_DIR/dashboard-rules.yml as recording rules and checked the same way
  (Grafana's $__rate_interval, $__interval and $__range become 5m; $variables inside label
  matchers are plain strings to PromQL);
* every metric name the expressions and the dashboard's variables use (all are ocf_..., but
  for Prometheus's own `up`) is among the samples of METRICS, a /metrics page of a running
  fabric.
Exits 1 and says what is wrong otherwise.
"""
import json
import re
import subprocess
import sys

GRAFANA_RANGES = re.compile(r"\$__(rate_interval|interval|range)\b")
METRIC_NAME = re.compile(r"\b(ocf_[A-Za-z0-9_]+)\b")
# What Prometheus itself adds to every target: not on a /metrics page.
SCRAPE_SERIES = re.compile(r"\bup\{")


def dashboard_expressions(dashboard):
    """(where, expr) of every panel target, panels of rows included."""
    found = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((f'panel {panel.get("id")} "{panel.get("title")}" {target.get("refId")}', target["expr"]))
            walk(panel.get("panels", []))

    walk(dashboard.get("panels", []))
    return found


def variable_queries(dashboard):
    queries = []
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable.get("query")
            queries.append(query.get("query") if isinstance(query, dict) else query)
    return queries


def promtool_check_rules(path):
    run = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"promtool check rules {path} failed:\n{run.stdout}{run.stderr}")
    return run.stdout.strip()


def rules_expressions(path):
    """The expr of every rule. No YAML library is among the dependencies (.ci/deps): promtool
    has checked the file, so each `expr:` is a plain scalar on its line or a block scalar
    (`|`, `>`) made of the more indented lines after it."""
    expressions, lines = [], open(path).read().split("\n")
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)expr:\s*(.*)$", line)
        if not match:
            continue
        indent, value = len(match.group(1)), match.group(2).strip()
        if value in ("|", ">", "|-", ">-"):
            block = []
            for following in lines[index + 1:]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                block.append(following.strip())
            value = " ".join(part for part in block if part)
        expressions.append((f"{path}:{index + 1}", value))
    return expressions


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    dashboard_path, rules_path, metrics_path, work_dir = sys.argv[1:]
    print(promtool_check_rules(rules_path))
    dashboard = json.load(open(dashboard_path))
    expressions = dashboard_expressions(dashboard)
    if not expressions:
        sys.exit(f"{dashboard_path}: no PromQL expression found")
    generated = f"{work_dir}/dashboard-rules.yml"
    with open(generated, "w") as out:
        out.write("groups:\n  - name: dashboard\n    rules:\n")
        for index, (where, expr) in enumerate(expressions):
            # json.dumps writes a valid YAML double-quoted scalar.
            out.write(f"      - record: ocf_dashboard:expression_{index}\n"
                      f"        expr: {json.dumps(GRAFANA_RANGES.sub('5m', expr))}\n")
    print(promtool_check_rules(generated))

    exposed = set()
    for line in open(metrics_path):
        if line.strip() and not line.startswith("#"):
            exposed.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    used = expressions + rules_expressions(rules_path) + [("variable", q) for q in variable_queries(dashboard)]
    missing = []
    for where, expr in used:
        names = METRIC_NAME.findall(expr)
        if not names and not SCRAPE_SERIES.search(expr):
            missing.append(f"{where}: uses no ocf_ metric: {expr}")
        missing += [f"{where}: {name} is not exposed" for name in names if name not in exposed]
    if missing:
        sys.exit("\n".join(missing))
    print(f"ok: {len(expressions)} dashboard expressions, {len(used) - len(expressions)} rule and variable "
          f"expressions, every metric they use among the {len(exposed)} exposed")


if __name__ == "__main__":
    main()
