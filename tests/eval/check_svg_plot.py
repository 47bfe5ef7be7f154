#!/usr/bin/env python3
"""Parses an SVG chart written by `tessera bench --plot` as XML (so a
malformed file fails here) and prints what a reader would see, as JSON:
the title, the axis labels, each series' name and point count, and the
legend entries. usage: check_svg_plot.py FILE.svg"""
import json
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == NS + "svg", root.tag


def texts(cls):
    return [e.text for e in root.iter(NS + "text") if e.get("class") == cls]


series = []
for line in root.iter(NS + "polyline"):
    if line.get("class") != "series":
        continue
    points = [tuple(float(v) for v in p.split(",")) for p in line.get("points").split()]
    series.append({"name": line.get("data-series"), "points": len(points),
                   "x_increasing": all(a[0] < b[0] for a, b in zip(points, points[1:]))})
legend = [g.find(NS + "text").text for g in root.iter(NS + "g") if g.get("class") == "legend"]
x_ticks = [e.text for g in root.iter(NS + "g") if g.get("class") == "x-ticks" for e in g]
y_ticks = [e.text for g in root.iter(NS + "g") if g.get("class") == "y-ticks" for e in g]
print(json.dumps({"title": texts("title"), "x_label": texts("x-label"), "y_label": texts("y-label"),
                  "series": series, "legend": legend, "x_ticks": x_ticks, "y_ticks": y_ticks}))
