"""The pictures and traces lockstep writes, read by parsers that are not lockstep's: Python's
xml.etree for the SVGs (core/svg.h) and Python's json for the Chrome traces (core/chrome_trace.h).

  plan svg        `lockstep plan --svg`: an SVG root with a viewBox, a polyline per series
  timeline svg    `lockstep timeline -o`: one <g class="chip"> per chip, each with rects
  system trace    `lockstep timeline --trace`: a process per chip, every event well formed
  chip trace      `lockstep simulate --gemm --trace`: processes, threads, X events, the end mark

Only the Python standard library. Run by ctest as python.test_report_formats:
  /usr/bin/python3 test_report_formats.py --lockstep BUILD/lockstep --tmp BUILD/test-tmp
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from named_tests import run_named_tests  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def run(binary, *args, env=None):
    r = subprocess.run([binary, *args], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, f"lockstep {' '.join(args)} failed: {r.stderr}"
    return r.stdout


def parse_svg(path):
    root = ET.parse(path).getroot()  # raises on anything not well-formed
    assert root.tag == SVG + "svg", root.tag
    view = [float(v) for v in root.get("viewBox").split()]
    assert view[:2] == [0, 0] and view[2] > 0 and view[3] > 0, view
    assert float(root.get("width")) == view[2] and float(root.get("height")) == view[3]
    return root


def check_events(path):
    """The trace's events, each checked against the trace-event format."""
    with open(path) as f:
        doc = json.load(f)
    events = doc["traceEvents"]
    assert events, "no events"
    for e in events:
        assert e["ph"] in ("M", "X", "i", "C"), e
        assert isinstance(e["name"], str) and isinstance(e["pid"], int), e
        if e["ph"] == "M":
            assert e["name"] in ("process_name", "process_sort_index", "thread_name", "thread_sort_index"), e
        if e["ph"] in ("X", "i", "C"):
            assert e["ts"] >= 0, e
        if e["ph"] == "X":
            assert e["dur"] >= 0 and isinstance(e["tid"], int) and isinstance(e["args"], dict), e
    return events


def test_plan_svg(binary, tmp):
    path = os.path.join(tmp, "plan.svg")
    env = dict(os.environ, LOCKSTEP_CACHE_DIR=os.path.join(tmp, "cache"))
    run(binary, "plan", "--model", "tiny", "--ctx", "128", "--lpu-system", "groq-node",
        "--gpu", "h100-sxm,b300", "--svg", path, env=env)
    root = parse_svg(path)
    lines = root.findall(f".//{SVG}polyline")
    assert len(lines) >= 2, f"{len(lines)} series lines"
    for line in lines:
        for point in line.get("points").split():
            x, y = (float(v) for v in point.split(","))
    return f"{len(lines)} series, {len(root.findall(f'.//{SVG}text'))} texts"


def test_timeline_svg_and_system_trace(binary, tmp):
    svg, trace = os.path.join(tmp, "token.svg"), os.path.join(tmp, "token.json")
    run(binary, "timeline", "--system", "groq-node", "--stages", "2", "--tensor-parallel", "2",
        "--ctx", "128", "--bin", "64", "-o", svg, "--trace", trace)
    root = parse_svg(svg)
    chips = [g for g in root.iter(SVG + "g") if g.get("class") == "chip"]
    assert len(chips) == 4, f"{len(chips)} chip rows"
    for g in chips:
        assert g.findall(SVG + "rect"), f"chip {g.get('data-chip')} has no rect"
    events = check_events(trace)
    processes = {e["pid"] for e in events if e["name"] == "process_name"}
    assert len(processes) == 4, processes
    spans = sum(e["ph"] == "X" for e in events)
    return f"4 chip rows; {len(events)} trace events, {spans} spans"


def test_chip_trace(binary, tmp):
    trace = os.path.join(tmp, "chip.json")
    run(binary, "simulate", "--gemm", "64,320,320", "--trace", trace)
    events = check_events(trace)
    threads = [e for e in events if e["name"] == "thread_name"]
    spans = [e for e in events if e["ph"] == "X"]
    assert threads and spans, (len(threads), len(spans))
    assert events[-1]["ph"] == "i" and events[-1]["name"].startswith("end of run"), events[-1]
    return f"{len(threads)} queues, {len(spans)} instructions"


if __name__ == "__main__":
    sys.exit(run_named_tests(globals(), __doc__, "report_formats"))
