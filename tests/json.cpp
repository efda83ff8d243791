#include "json.hpp"

#include <cctype>
#include <cstdlib>

namespace json {

namespace {

struct parser {
  std::string_view s;
  std::size_t i = 0;

  void skip() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool literal(std::string_view word) {
    if (s.substr(i, word.size()) != word) return false;
    i += word.size();
    return true;
  }
  bool string(std::string& out) {
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c == '\\') {
        if (i >= s.size()) return false;
        char e = s[i++];
        if (e == 'u') {
          if (i + 4 > s.size()) return false;
          out += static_cast<char>(std::strtol(std::string(s.substr(i, 4)).c_str(), nullptr, 16));
          i += 4;
        } else {
          out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        }
      } else {
        out += c;
      }
    }
    if (i >= s.size()) return false;
    ++i;
    return true;
  }
  bool parse_value(value& v, int depth) {
    if (depth > 64) return false;
    skip();
    if (i >= s.size()) return false;
    char c = s[i];
    if (c == '{') {
      v.type = value::kind::object;
      ++i;
      skip();
      if (i < s.size() && s[i] == '}') return ++i, true;
      while (true) {
        skip();
        std::string name;
        if (!string(name)) return false;
        skip();
        if (i >= s.size() || s[i++] != ':') return false;
        if (!parse_value(v.fields[name], depth + 1)) return false;
        skip();
        if (i < s.size() && s[i] == ',') {
          ++i;
          continue;
        }
        return i < s.size() && s[i++] == '}';
      }
    }
    if (c == '[') {
      v.type = value::kind::array;
      ++i;
      skip();
      if (i < s.size() && s[i] == ']') return ++i, true;
      while (true) {
        v.items.emplace_back();
        if (!parse_value(v.items.back(), depth + 1)) return false;
        skip();
        if (i < s.size() && s[i] == ',') {
          ++i;
          continue;
        }
        return i < s.size() && s[i++] == ']';
      }
    }
    if (c == '"') {
      v.type = value::kind::string;
      return string(v.text);
    }
    if (literal("true")) return v.type = value::kind::boolean, v.boolean = true, true;
    if (literal("false")) return v.type = value::kind::boolean, true;
    if (literal("null")) return true;
    std::size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '-' || s[i] == '+' ||
                            s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
      ++i;
    if (start == i) return false;
    v.type = value::kind::number;
    v.text = std::string(s.substr(start, i - start));
    v.number = std::strtod(v.text.c_str(), nullptr);
    return true;
  }
};

}  // namespace

std::optional<value> parse(std::string_view text) {
  parser p{text};
  value v;
  if (!p.parse_value(v, 0)) return std::nullopt;
  p.skip();
  if (p.i != text.size()) return std::nullopt;
  return v;
}

}  // namespace json
