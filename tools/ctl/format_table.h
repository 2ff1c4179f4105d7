// AlignColumns: rows of cells as a text table, each column as wide as its
// widest cell, columns separated by two spaces, no trailing blanks. Pure.
#pragma once

#include <string>
#include <vector>

namespace leaseq::tools {

std::string AlignColumns(const std::vector<std::vector<std::string>>& rows);

}  // namespace leaseq::tools
