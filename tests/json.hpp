// A small JSON reader for the tests: enough to parse bpfbatch's and
// bpftool's output back into values and compare them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace json {

struct value {
  enum class kind { null, boolean, number, string, array, object } type = kind::null;
  bool boolean = false;
  double number = 0;
  std::string text;                     // the number's digits, or the string
  std::vector<value> items;             // array
  std::map<std::string, value> fields;  // object

  const value* find(const std::string& name) const {
    auto it = fields.find(name);
    return it == fields.end() ? nullptr : &it->second;
  }
};

// nullopt on malformed input or trailing garbage.
std::optional<value> parse(std::string_view text);

}  // namespace json
