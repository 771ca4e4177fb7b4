#include "sim/svg_chart.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace tessera::sim {
namespace {

constexpr double kWidth = 1000, kLeft = 150, kRight = 20;
constexpr double kPlot = kWidth - kLeft - kRight;

std::string Escape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

// The time window every timeline shows: up to where all recorded ones reach.
double CommonWindowMs(const std::vector<ChartSeries>& series) {
  double window = std::numeric_limits<double>::infinity();
  for (const ChartSeries& s : series) {
    double end = 0;
    for (const BusyInterval& b : s.timeline) end = std::max(end, b.end_ms);
    if (end > 0) window = std::min(window, end);
  }
  return std::isfinite(window) ? window : 1.0;
}

std::string Colour(const BusyInterval& b) {
  if (b.prefill) return "#e4572e";
  const int shade = std::max(60, 200 - 16 * b.batch);  // darker = larger batch
  return absl::StrFormat("rgb(%d,%d,230)", shade / 2, shade);
}

// One planner's timeline starting at `y`; returns the height used.
double Timeline(const ChartSeries& s, double window_ms, double y, std::string& out) {
  const size_t rows = std::max<size_t>(1, s.stage_names.size());
  const double row_h = std::clamp(160.0 / rows, 2.0, 18.0);
  absl::StrAppend(&out, absl::StrFormat(
      "<text x=\"10\" y=\"%.1f\" font-weight=\"bold\">%s: stages over the first %.0f ms</text>\n",
      y + 12, Escape(s.planner), window_ms));
  y += 20;
  for (size_t r = 0; r < rows && row_h >= 9; ++r) {
    absl::StrAppend(&out, absl::StrFormat(
        "<text x=\"10\" y=\"%.1f\" font-size=\"10\">%s</text>\n", y + r * row_h + row_h - 3,
        Escape(r < s.stage_names.size() ? s.stage_names[r] : "")));
  }
  absl::StrAppend(&out, absl::StrFormat(
      "<rect x=\"%.0f\" y=\"%.1f\" width=\"%.0f\" height=\"%.1f\" fill=\"#f4f4f4\"/>\n",
      kLeft, y, kPlot, rows * row_h));
  for (const BusyInterval& b : s.timeline) {
    if (b.start_ms >= window_ms) continue;
    const double x0 = kLeft + kPlot * b.start_ms / window_ms;
    const double x1 = kLeft + kPlot * std::min(b.end_ms, window_ms) / window_ms;
    absl::StrAppend(&out, absl::StrFormat(
        "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\"/>\n", x0,
        y + b.stage * row_h, std::max(0.3, x1 - x0), row_h * 0.85, Colour(b)));
  }
  return 20 + rows * row_h + 14;
}

double Bars(const std::vector<ChartSeries>& series, double y, std::string& out) {
  double best = 0;
  for (const ChartSeries& s : series) best = std::max(best, s.tokens_per_s);
  absl::StrAppend(&out, absl::StrFormat(
      "<text x=\"10\" y=\"%.1f\" font-weight=\"bold\">tokens/s (all requests)</text>\n", y + 12));
  y += 20;
  for (const ChartSeries& s : series) {
    const double w = best > 0 ? kPlot * s.tokens_per_s / best : 0;
    absl::StrAppend(&out, absl::StrFormat(
        "<text x=\"10\" y=\"%.1f\">%s</text><rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" "
        "height=\"16\" fill=\"#3b8f5a\"/><text x=\"%.1f\" y=\"%.1f\">%.1f</text>\n",
        y + 13, Escape(s.planner), kLeft, y, w, kLeft + w + 4, y + 13, s.tokens_per_s));
    y += 22;
  }
  return 20 + 22.0 * series.size();
}

}  // namespace

std::string RenderSvg(const std::string& title, const std::vector<ChartSeries>& series) {
  const double window_ms = CommonWindowMs(series);
  std::string body;
  double y = 40;
  for (const ChartSeries& s : series) y += Timeline(s, window_ms, y, body);
  y += Bars(series, y, body);
  y += 20;
  std::string out = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n<text x=\"10\" y=\"22\" font-size=\"15\">%s</text>\n"
      "<text x=\"%.0f\" y=\"22\" font-size=\"10\">red: prefill, blue: decode batch "
      "(darker = larger)</text>\n",
      kWidth, y, Escape(title), kWidth - 330);
  absl::StrAppend(&out, body, "</svg>\n");
  return out;
}

}  // namespace tessera::sim
