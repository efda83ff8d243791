// libFuzzer target: the tool's argument parser on any argument list (the
// input split at NUL bytes into words). It must never crash, read out of
// bounds or hang; a usage error is one printable line; and whatever it
// accepts must be a command line the tool can run, which, written back out
// in canonical form, parses to the very same arguments.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "arguments.hpp"

namespace {

using bpfbatch::iteration;
using bpfbatch::cli::arguments;

[[noreturn]] void violated() { std::abort(); }

bool is_one_of(std::string_view word, std::initializer_list<std::string_view> set) {
  for (std::string_view s : set)
    if (word == s) return true;
  return false;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

// The arguments as a command line, every field that differs from its
// default spelled out once: the options, then `--` and the positional words
// (a path may begin with '-').
std::vector<std::string> canonical_words(const arguments& a) {
  std::vector<std::string> w;
  if (a.mode != bpfbatch::cli::load_mode::any) {
    w.emplace_back("--mode");
    w.emplace_back(a.mode == bpfbatch::cli::load_mode::exist ? "exist" : "noexist");
  }
  if (a.pretty) w.emplace_back("--pretty");
  if (a.json && !a.pretty) w.emplace_back("--json");
  if (a.bpffs) w.emplace_back("--bpffs");
  if (a.quiet) w.emplace_back("--quiet");
  if (a.sum) w.emplace_back("--sum");
  if (a.count) w.emplace_back("--count");
  if (a.no_btf) w.emplace_back("--no-btf");
  if (a.drain) w.emplace_back("--drain");
  if (a.batch_size != 0) {
    w.emplace_back("--batch-size");
    w.emplace_back(std::to_string(a.batch_size));
  }
  if (a.method != iteration::automatic) {
    w.emplace_back("--method");
    w.emplace_back(a.method == iteration::batch ? "batch" : "walk");
  }
  if (a.threads != 1) {
    w.emplace_back("--threads");
    w.emplace_back(a.threads == 0 ? "auto" : std::to_string(a.threads));
  }
  if (a.entries != arguments{}.entries) {
    w.emplace_back("--entries");
    w.emplace_back(std::to_string(a.entries));
  }
  if (a.help) w.emplace_back("--help");
  if (a.version) w.emplace_back("--version");
  w.emplace_back("--");
  if (!a.command.empty()) w.emplace_back(a.command);
  if (!a.selector_kind.empty()) {
    w.emplace_back(a.selector_kind);
    w.emplace_back(a.selector_value);
  }
  if (!a.destination.kind.empty()) {
    w.emplace_back(a.destination.kind);
    w.emplace_back(a.destination.value);
  }
  for (std::string_view operand : a.operands) w.emplace_back(operand);
  if (!a.input.empty()) w.emplace_back(a.input);
  return w;
}

// What an accepted command line must mean.
void check_accepted(const arguments& a) {
  if (a.version) return;  // --version stops parsing where it stands
  if (a.help) {
    if (!a.command.empty() &&
        !is_one_of(a.command, {"dump", "drain", "load", "copy", "info", "list", "show", "demo", "help"}) &&
        !bpfbatch::cli::is_element_verb(a.command))
      violated();
    return;
  }
  const bool element_verb = bpfbatch::cli::is_element_verb(a.command);
  if (!is_one_of(a.command, {"dump", "drain", "load", "copy", "info", "list", "show", "demo"}) &&
      !element_verb)
    violated();
  if (!element_verb && !a.operands.empty()) violated();
  const bool dump = a.command == "dump" || a.command == "drain";
  const bool load = a.command == "load";
  const bool copy = a.command == "copy";
  const bool takes_map =
      dump || load || copy || a.command == "info" || (element_verb && a.command != "create");
  if (copy != !a.destination.kind.empty()) violated();
  if (!copy && a.drain) violated();
  if (copy && (!is_one_of(a.destination.kind, {"id", "pinned", "name"}) || a.destination.value.empty()))
    violated();
  if (a.command != "show" && takes_map != !a.selector_kind.empty()) violated();  // show: a map or none
  if (!a.selector_kind.empty()) {
    if (!is_one_of(a.selector_kind, {"id", "pinned", "name"}) || a.selector_value.empty()) violated();
    if (a.selector_kind == "id" &&
        (!all_digits(a.selector_value) ||
         std::strtoull(std::string(a.selector_value).c_str(), nullptr, 10) != a.id))
      violated();
    if (a.selector_kind == "name" && a.selector_value.size() > 15) violated();
  }
  if (!load && (!a.input.empty() || a.mode != bpfbatch::cli::load_mode::any)) violated();
  if (a.pretty && !a.json) violated();
  if (a.bpffs && a.command != "info" && a.command != "list" && a.command != "show") violated();
  if (!dump && !load && !copy && a.batch_size != 0) violated();
  if (!dump && (a.method != iteration::automatic || a.sum || a.count || a.no_btf || a.threads != 1))
    violated();
  if (a.threads > bpfbatch::cli::max_threads) violated();  // 0 is auto
  if (a.sum && a.count) violated();
  if (a.entries == 0 || a.entries > bpfbatch::cli::max_demo_entries) violated();
  if (a.command != "demo" && a.entries != arguments{}.entries) violated();
  if (a.command == "demo" && (a.json || a.pretty)) violated();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> words;
  while (!input.empty() && words.size() < 64) {
    const std::size_t nul = input.find('\0');
    words.push_back(input.substr(0, nul));
    input = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  }

  const auto parsed = bpfbatch::cli::parse_arguments(words);
  if (!parsed.usage_error.empty()) {
    for (char c : parsed.usage_error)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) violated();
    return 0;
  }
  check_accepted(parsed.args);

  const std::vector<std::string> again = canonical_words(parsed.args);
  const std::vector<std::string_view> again_views(again.begin(), again.end());
  const auto reparsed = bpfbatch::cli::parse_arguments(again_views);
  if (!reparsed.usage_error.empty() || !(reparsed.args == parsed.args)) violated();
  return 0;
}
