// A line chart as a standalone SVG document (no libraries): axes with
// rounded ticks, one polyline per series with point markers, a legend and a
// title. Used by `tessera bench --plot`.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tessera::cli {

struct PlotSeries {
  std::string name;                               // legend text
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in the given order
};

struct LinePlot {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
};

// Tick values covering [low, high] at a 1-2-5 step, about `target` of them.
std::vector<double> nice_ticks(double low, double high, int target = 6);

// The SVG text. Throws tessera::Error when there is no series or a series
// has no point or a non-finite coordinate.
std::string render_svg(const LinePlot& plot);

}  // namespace tessera::cli
