#include "svg_plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tessera/core/error.hpp"

namespace tessera::cli {
namespace {

// Canvas and plot-area geometry, in SVG user units (pixels).
constexpr double kWidth = 820, kHeight = 480;
constexpr double kLeft = 80, kRight = 210, kTop = 50, kBottom = 60;
constexpr double kPlotWidth = kWidth - kLeft - kRight, kPlotHeight = kHeight - kTop - kBottom;

// Distinguishable on white and for common colour-vision deficiencies (Okabe-Ito).
const char* const kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters are not allowed in XML 1.0 text.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  return out;
}

std::string number(double v) { return fmt::format("{:.2f}", v); }
std::string tick_text(double v) { return fmt::format("{:g}", std::abs(v) < 1e-12 ? 0.0 : v); }

}  // namespace

std::vector<double> nice_ticks(double low, double high, int target) {
  if (!(high > low)) {  // one value: a unit range around it
    const double pad = low == 0 ? 1.0 : std::abs(low) * 0.5;
    low -= pad, high += pad;
  }
  const double raw = (high - low) / std::max(target - 1, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  std::vector<double> ticks;
  const double first = std::floor(low / step + 1e-9) * step;
  for (double t = first; t < high + step * 0.999; t += step) ticks.push_back(t);
  if (ticks.back() < high) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::string render_svg(const LinePlot& plot) {
  if (plot.series.empty()) throw Error("a plot needs at least one series");
  double x_min = INFINITY, x_max = -INFINITY, y_max = 0;
  for (const PlotSeries& s : plot.series) {
    if (s.points.empty()) throw Error(fmt::format("plot series '{}' has no points", s.name));
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y))
        throw Error(fmt::format("plot series '{}' has a non-finite point ({}, {})", s.name, x, y));
      x_min = std::min(x_min, x), x_max = std::max(x_max, x), y_max = std::max(y_max, y);
    }
  }
  // Speeds are compared as ratios, so the y axis starts at zero.
  const std::vector<double> xt = nice_ticks(x_min, x_max);
  const std::vector<double> yt = nice_ticks(0, y_max > 0 ? y_max : 1);
  const double x0 = xt.front(), x1 = xt.back(), y0 = yt.front(), y1 = yt.back();
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * kPlotWidth; };
  auto py = [&](double y) { return kTop + kPlotHeight - (y - y0) / (y1 - y0) * kPlotHeight; };

  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << fmt::format(
             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
             "font-family=\"sans-serif\" font-size=\"12\">\n",
             kWidth, kHeight, kWidth, kHeight)
      << fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n", kWidth, kHeight)
      << fmt::format(
             "<text class=\"title\" x=\"{}\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" "
             "font-weight=\"bold\">{}</text>\n",
             number(kLeft + kPlotWidth / 2), escape(plot.title));

  // Grid lines and tick labels.
  out << "<g class=\"grid\" stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (double t : xt)
    out << fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", number(px(t)), number(kTop),
                       number(kTop + kPlotHeight));
  for (double t : yt)
    out << fmt::format("<line x1=\"{1}\" y1=\"{0}\" x2=\"{2}\" y2=\"{0}\"/>\n", number(py(t)), number(kLeft),
                       number(kLeft + kPlotWidth));
  out << "</g>\n<g class=\"x-ticks\" text-anchor=\"middle\">\n";
  for (double t : xt)
    out << fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", number(px(t)), number(kTop + kPlotHeight + 18),
                       tick_text(t));
  out << "</g>\n<g class=\"y-ticks\" text-anchor=\"end\">\n";
  for (double t : yt)
    out << fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", number(kLeft - 8), number(py(t) + 4), tick_text(t));
  out << "</g>\n";

  // Axes and their labels.
  out << fmt::format(
      "<g class=\"axes\" stroke=\"black\" stroke-width=\"1.5\">\n"
      "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>\n"
      "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{3}\"/>\n</g>\n",
      number(kLeft), number(kTop + kPlotHeight), number(kLeft + kPlotWidth), number(kTop));
  out << fmt::format("<text class=\"x-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     number(kLeft + kPlotWidth / 2), number(kHeight - 18), escape(plot.x_label));
  out << fmt::format(
      "<text class=\"y-label\" x=\"0\" y=\"0\" text-anchor=\"middle\" "
      "transform=\"translate(22 {}) rotate(-90)\">{}</text>\n",
      number(kTop + kPlotHeight / 2), escape(plot.y_label));

  // The series: a polyline each, a marker per point, a legend entry.
  for (std::size_t i = 0; i < plot.series.size(); ++i) {
    const PlotSeries& s = plot.series[i];
    const char* colour = kColours[i % std::size(kColours)];
    std::string points;
    for (const auto& [x, y] : s.points) {
      if (!points.empty()) points += ' ';
      points += number(px(x)) + "," + number(py(y));
    }
    out << fmt::format(
        "<polyline class=\"series\" data-series=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" "
        "points=\"{}\"/>\n",
        escape(s.name), colour, points);
    out << fmt::format("<g class=\"markers\" fill=\"{}\">\n", colour);
    for (const auto& [x, y] : s.points)
      out << fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3.5\"><title>{}: {:g}, {:.2f}</title></circle>\n",
                         number(px(x)), number(py(y)), escape(s.name), x, y);
    out << "</g>\n";
    const double ly = kTop + 10 + 20 * static_cast<double>(i);
    const double lx = kLeft + kPlotWidth + 16;
    out << fmt::format(
        "<g class=\"legend\"><line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" "
        "stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">{}</text></g>\n",
        number(lx), number(ly), number(lx + 24), number(ly), colour, number(lx + 30), number(ly + 4), escape(s.name));
  }
  out << "</svg>\n";
  return out.str();
}

}  // namespace tessera::cli
