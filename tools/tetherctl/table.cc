#include "tools/tetherctl/table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tetherctl {

void Table::print(std::ostream& out, bool header) const {
  std::vector<size_t> widths;
  for (const Column& column : columns_) widths.push_back(header ? column.title.size() : 0);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < columns_.size() && i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t i = 0; i < columns_.size(); ++i) {
      const std::string& cell = i < cells.size() ? cells[i] : std::string();
      const std::string pad(widths[i] - std::min(widths[i], cell.size()), ' ');
      if (i > 0) text += "  ";
      text += columns_[i].align == Align::kRight ? pad + cell : cell + pad;
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << '\n';
  };
  std::vector<std::string> titles;
  for (const Column& column : columns_) titles.push_back(column.title);
  if (header) line(titles);
  for (const auto& row : rows_) line(row);
}

std::string humanNumber(double value) {
  if (!(value > 0)) return "0";
  char text[32];
  if (value < 10000) {
    std::snprintf(text, sizeof(text), "%.0f", value);
    return text;
  }
  static constexpr const char* kSuffixes[] = {"k", "M", "G", "T", "P", "E"};
  size_t suffix = 0;
  value /= 1000;
  while (value >= 999.95 && suffix + 1 < std::size(kSuffixes)) {
    value /= 1000;
    ++suffix;
  }
  std::snprintf(text, sizeof(text), "%.1f%s", value, kSuffixes[suffix]);
  return text;
}

}  // namespace tetherctl
