"""The run's report: JSON (everything), Markdown (tables and goals), PNG (chart)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

KEYCLOAK_REFRESH_PER_VCPU = 120  # Keycloak's published sizing: refresh grants per second per vCPU
WAITING = "waits for"


def cell(report: dict[str, Any], key: str, connections: int | None = None) -> dict[str, Any] | None:
    connections = connections or report["settings"]["connections"]
    return next((r for r in report["results"] if r["key"] == key and r["connections"] == connections), None)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def add_ratios(report: dict[str, Any]) -> None:
    """Every row's throughput against baselines (a), (b) and (d) at the same concurrency."""
    for row in report["results"]:
        for base, key in (("a", "a_starlette"), ("b", "b_sdk"), ("d", "d_node")):
            ref = cell(report, key, row["connections"])
            row[f"x_{base}"] = _ratio(row["rps"], ref["rps"] if ref else None)
        row["p99_over_p50"] = _ratio(row["p99_ms"], row["p50_ms"])
        server = next(iter(row["processes"].values()), None)
        row["server_cpu_ms_per_call"] = server["cpu_s"] / row["requests"] * 1000 if server and row["requests"] else None
        row["server_cpu_share"] = server["cpu_s"] / row["seconds"] if server and row["seconds"] else None


BASELINE_OF = {"list_snippets": ("b_sdk_page", "d_node_page")}
"""Baselines answering a payload the size of the tool's (issue #7: "a payload of the same size"):
a list page is ~6 KB of summaries; get_snippet and save_snippet answer about as much as the ~1 KB
document of ``b_sdk`` / ``d_node``."""
RATIO_COLUMNS = ("b_sdk", "b_sdk_page", "d_node", "d_node_page", "list_snippets", "get_snippet", "save_snippet")


def goals(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The goals of issue #7, each judged if this run measured what it needs, else what it waits for."""
    c = report["settings"]["connections"]
    b = cell(report, "b_sdk")
    out: list[dict[str, Any]] = []

    def add(goal: str, measured: str, verdict: bool | None, waits: str = "") -> None:
        status = "met" if verdict else "NOT met" if verdict is not None else f"{WAITING} {waits}"
        out.append({"goal": goal, "measured": measured, "status": status})

    def versus(key: str, row: dict[str, Any], base_key: str, base: dict[str, Any]) -> tuple[float, str]:
        """The ratio a goal is judged on: the median over the interleaved rounds when there are
        any (with their range), else this run's single measurement."""
        ratios = sorted(
            r[key]["rps"] / r[base_key]["rps"]
            for r in report.get("ratio_rounds") or []
            if key in r and base_key in r and r[base_key]["rps"]
        )
        if not ratios:
            ratio = row["rps"] / base["rps"]
            return ratio, f"{ratio:.2f}"
        median = statistics.median(ratios)
        return median, f"{median:.2f} (median of {len(ratios)} rounds, {ratios[0]:.2f}-{ratios[-1]:.2f})"

    for key in ("list_snippets", "get_snippet"):
        row = cell(report, key)
        b_key, d_key = BASELINE_OF.get(key, ("b_sdk", "d_node"))
        if not (cell(report, b_key) and cell(report, d_key)):
            b_key, d_key = "b_sdk", "d_node"
        kb, kd = cell(report, b_key), cell(report, d_key)
        if row and kb:
            ratio_b, text_b = versus(key, row, b_key, kb)
            spread = row["p99_over_p50"]
            add(f"{key}: >= 0.8 x (b) calls/s", f"{text_b} x `{b_key}`", ratio_b >= 0.8)
            add(f"{key}: p99 <= 3 x p50", f"p99/p50 = {spread:.2f}", spread <= 3)
            if kd:
                ratio_d, text_d = versus(key, row, d_key, kd)
                add(f"{key} (stretch): >= 1.0 x (d)", f"{text_d} x `{d_key}`", ratio_d >= 1.0)
        else:
            add(f"{key}: >= 0.8 x (b), p99 <= 3 x p50, stretch >= 1.0 x (d)", "—", None, f"the `{key}` tool")
    row = cell(report, "save_snippet")
    if row and b:
        ratio_b, text_b = versus("save_snippet", row, "b_sdk", b)
        add("save_snippet: >= 0.5 x (b) calls/s", f"{text_b} x (b)", ratio_b >= 0.5)
    else:
        add("save_snippet: >= 0.5 x (b) calls/s", "—", None, "the `save_snippet` tool")
    search, listing = cell(report, "search_snippets"), cell(report, "list_snippets")
    if search and listing:
        r = search["p50_ms"] / listing["p50_ms"]
        add("search_snippets: p50 <= 2 x p50 of list_snippets", f"{r:.2f} x", r <= 2)
    else:
        add("search_snippets: p50 <= 2 x p50 of list_snippets", "—", None, "`search_snippets` and `list_snippets`")
    scale = report.get("scale")
    if scale and scale.get("summary"):
        sizes = scale["settings"]["sizes"]
        for item in scale["summary"]:
            add(
                f"scale: {item['key']} p50 at {sizes[-1]:,} snippets <= 1.5 x p50 at {sizes[0]:,}",
                f"{item['ratio']:.2f} x (`--scale` run of {scale['started']}, results/scale.md)",
                item["met"],
            )
    else:
        add(
            "scale: p50 at 1,000,000 snippets <= 1.5 x p50 at 10,000 (list first page, 1,000 deep, search)",
            "—",
            None,
            "a `--scale 10000,1000000` run (bench/results/scale.json)",
        )
    row = cell(report, "refresh_grant")
    goal = 4 * KEYCLOAK_REFRESH_PER_VCPU
    if row:
        add(f"refresh grants/s per worker >= 4 x 120 = {goal}", f"{row['rps']:.0f}/s", row["rps"] >= goal)
    else:
        add(f"refresh grants/s per worker >= {goal}", "—", None, "a working refresh grant")
    login = cell(report, "login")
    one_thread = next((a for a in report.get("argon2", []) if a["threads"] == 1), None)
    if login and one_thread:
        r = login["rps"] / one_thread["per_second"]
        add("logins/s >= 0.8 x raw argon2id verify rate (c, 1 thread on the server's CPU)", f"{r:.2f} x (c)", r >= 0.8)
    mixed = report.get("mixed")
    if mixed and mixed.get("p99_ratio"):
        stand_in = mixed["mcp_scenario"] != "list_snippets"
        label = "p99 of MCP calls while logins saturate the AS <= 2 x alone" + (
            f" (measured on `{mixed['mcp_scenario']}` until list_snippets exists)" if stand_in else ""
        )
        add(label, f"{mixed['p99_ratio']:.2f} x", mixed["p99_ratio"] <= 2)
    peaks = [
        r["processes"]["mcpserver"]["peak_rss_mb"] for r in report["results"] if "mcpserver" in r.get("processes", {})
    ]
    if peaks:
        add("peak RSS of an MCP worker under load <= 200 MB", f"{max(peaks):.0f} MB", max(peaks) <= 200)
    _ = c
    return out


def _fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


def markdown(report: dict[str, Any]) -> str:
    s, m = report["settings"], report["machine"]
    c = s["connections"]
    lines = [
        f"# Benchmark run {report['started']} - {report['finished']}",
        "",
        f"`{report['command']}`",
        "",
        f"Machine: {m['cpus']} x {m['cpu']}, {m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}; "
        f"load average at start {', '.join(f'{x:.2f}' for x in m['load_average_at_start'])}. "
        f"Servers pinned to CPU {s['server_cpus']}, wrk to CPU {s['loadgen_cpus']}, Postgres unpinned. "
        f"{s['seconds']} s per cell after {s['warmup']} s warm-up; wrk {s['wrk']}.",
        "",
        f"Code measured: {report['code'].get('label') or report['code'].get('commit') or report['code']['source']}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        "",
    ]
    if report.get("library"):
        lib = report["library"]
        lines += [
            f"Library: {lib['snippets']:,} snippets with {lib['versions']:,} versions, {lib['users']:,} users, "
            f"{lib['workspaces']:,} workspaces, {lib['memberships']:,} memberships "
            f"(seeded in {lib['seed_seconds']} s). "
            + (
                "The search queries match "
                + ", ".join(f"`{q}` {n:,}" for q, n in lib["search_matches"].items())
                + " snippets (of all, before visibility). "
                if lib.get("search_matches")
                else ""
            )
            + f"Our MCP server's tools: {', '.join(report['mcp_tools']) or '—'}.",
            "",
        ]
    lines += [
        f"## At {c} connections, one worker",
        "",
        "x (a), x (b), x (d): calls per second against baselines (a), (b), (d) in this run. "
        "CPU ms/call: the server process's CPU per call; wrk CPU: share of one core the load generator used.",
        "",
        "| scenario | calls/s | x (a) | x (b) | x (d) | p50 ms | p95 ms | p99 ms | p99/p50 "
        "| CPU ms/call | server CPU | Postgres CPU s | peak RSS MB | wrk CPU | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in (r for r in report["results"] if r["connections"] == c):
        proc = next(iter(row["processes"].values()), {"peak_rss_mb": None})
        cpu_share = row["server_cpu_share"] * 100 if row["server_cpu_share"] is not None else None
        lines.append(
            f"| {row['label']} | {row['rps']:,.0f} | {_fmt(row['x_a'])} | {_fmt(row['x_b'])} | {_fmt(row['x_d'])} "
            f"| {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | {row['p99_ms']:.2f} | {_fmt(row['p99_over_p50'])} "
            f"| {_fmt(row['server_cpu_ms_per_call'], 3)} | {_fmt(cpu_share, 0, ' %')} "
            f"| {row['postgres_cpu_s']:.1f} | {_fmt(proc['peak_rss_mb'], 0)} | {row['loadgen_cpu_share'] * 100:.0f} % "
            f"| {row['failed']} |"
        )
    if report.get("argon2"):
        lines += ["", "Baseline (c), raw argon2id verify at the server's parameters:", ""]
        for a in report["argon2"]:
            lines.append(
                f"- {a['threads']} thread(s), pinned to {a['pinned_to']}: {a['per_second']:.1f} verifies/s "
                f"({a['ms_per_verify_per_thread']:.1f} ms each; {a['parameters']})"
            )
    if report.get("mixed"):
        mx = report["mixed"]
        lines += [
            "",
            f"MCP calls while logins saturate the authorization server ({mx['connections']} connections each): "
            f"`{mx['mcp_scenario']}` p99 {mx['mcp_alone']['p99_ms']:.2f} ms alone, "
            f"{mx['mcp_during_logins']['p99_ms']:.2f} ms during logins ({_fmt(mx['p99_ratio'])} x); "
            f"{mx['mcp_during_logins']['rps']:,.0f} calls/s and {mx['logins']['rps']:.1f} logins/s meanwhile.",
        ]
    if report.get("ratio_rounds"):
        rounds = report["ratio_rounds"]
        keys = [k for k in RATIO_COLUMNS if k in rounds[0]]
        lines += [
            "",
            f"Interleaved rounds at {c} connections (the ratio goals are judged on their median): calls/s, "
            "and for our tools x (b) of the like-sized baseline (`b_sdk_page` for list_snippets)",
            "",
            "| round | " + " | ".join(keys) + " |",
            "| --- |" + " ---: |" * len(keys),
        ]
        for i, r in enumerate(rounds, 1):
            cells = []
            for k in keys:
                text = f"{r[k]['rps']:,.0f}" if k in r else "—"
                base = BASELINE_OF.get(k, ("b_sdk",))[0] if BASELINE_OF.get(k, ("b_sdk",))[0] in r else "b_sdk"
                if k in r and not k.startswith(("b_", "d_")) and r.get(base, {}).get("rps"):
                    text += f" ({r[k]['rps'] / r[base]['rps']:.2f})"
                cells.append(text)
            lines.append(f"| {i} | " + " | ".join(cells) + " |")
    levels = s["levels"]
    keys = list(dict.fromkeys(r["key"] for r in report["results"]))
    labels = {r["key"]: r["label"] for r in report["results"]}
    lines += [
        "",
        "## Concurrency sweep (calls/s, p99 ms)",
        "",
        "| scenario | " + " | ".join(f"{n} conn." for n in levels) + " |",
    ]
    lines.append("| --- |" + " ---: |" * len(levels))
    for key in keys:
        cells = []
        for n in levels:
            row = cell(report, key, n)
            cells.append(f"{row['rps']:,.0f} / {row['p99_ms']:.1f}" if row else "—")
        lines.append(f"| {labels[key]} | " + " | ".join(cells) + " |")
    lines += ["", "## Goals of issue #7", "", "| goal | measured | status |", "| --- | --- | --- |"]
    for g in report["goals"]:
        lines.append(f"| {g['goal']} | {g['measured']} | {g['status']} |")
    if report["skipped"]:
        lines += ["", "## Not measured in this run", ""]
        lines += [f"- `{k}`: {v}" for k, v in report["skipped"].items()]
    failed = [r for r in report["results"] if r["failed"]]
    if failed:
        lines += ["", "## Failed responses", ""]
        lines += [f"- `{r['key']}` at {r['connections']}: {r['failed']} — {r['first_bad'][:300]!r}" for r in failed]
    return "\n".join(lines) + "\n"


def chart(report: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    c = report["settings"]["connections"]
    rows = [r for r in report["results"] if r["connections"] == c and r["group"] != "ceiling"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 6.5), gridspec_kw={"width_ratios": [3, 2]})
    colors = {"baseline": "#9e9e9e", "mcp": "#1f77b4", "auth": "#ff7f0e"}
    names = [r["label"].replace("tools/call ", "") for r in rows]
    left.barh(names, [r["rps"] for r in rows], color=[colors.get(r["group"], "#555") for r in rows])
    left.set_xscale("log")
    left.invert_yaxis()
    left.set_xlabel(f"calls per second at {c} connections, 1 worker (log scale)")
    for i, r in enumerate(rows):
        left.text(r["rps"], i, f" {r['rps']:,.0f}/s  p99 {r['p99_ms']:.1f} ms", va="center", fontsize=8)
    left.set_title("Throughput (grey: baselines, blue: our MCP server, orange: our authorization server)", fontsize=9)
    for key in dict.fromkeys(r["key"] for r in report["results"] if r["group"] != "ceiling"):
        points = sorted((r["connections"], r["rps"]) for r in report["results"] if r["key"] == key)
        if len(points) > 1:
            right.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=key)
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xlabel("connections")
    right.set_ylabel("calls per second")
    right.set_title("Concurrency sweep", fontsize=9)
    right.legend(fontsize=7)
    fig.suptitle(f"shared-skills benchmark, {report['started']} ({report['settings']['snippets']:,} snippets)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_reports(report: dict[str, Any], out: Path) -> list[Path]:
    add_ratios(report)
    report["goals"] = goals(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.with_suffix(".json"), out.with_suffix(".md")]
    paths[0].write_text(json.dumps(report, indent=2, default=str) + "\n")
    paths[1].write_text(markdown(report))
    png = out.with_suffix(".png")
    if chart(report, png):
        paths.append(png)
    else:
        print("matplotlib is not installed: no chart (run with `uv run --with matplotlib …`)")
    return paths
