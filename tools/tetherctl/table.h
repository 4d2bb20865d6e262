// Aligned plain-text tables and number formatting for tetherctl's human-readable output.
// Columns are separated by two spaces; numeric columns are right-aligned so digits line up.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace tetherctl {

enum class Align { kLeft, kRight };

struct Column {
  std::string title;
  Align align = Align::kLeft;
};

class Table {
 public:
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  // Missing trailing cells print empty; extra cells are ignored.
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // `header`: print the column titles first (off for "key  value" listings).
  void print(std::ostream& out, bool header = true) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Counts and rates: exact below 10000, then one decimal with an SI suffix: 12345 -> "12.3k",
// 4.56e6 -> "4.6M". Negative values (never expected) print as 0.
std::string humanNumber(double value);

}  // namespace tetherctl
