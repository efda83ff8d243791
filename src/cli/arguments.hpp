// The tool's command line: what it asks for, or the one-line reason why it
// cannot be understood (a usage error: exit status 2). Parsing touches no
// map and calls nothing but the parser, so that it can be fuzzed alone.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <bpfbatch/batch_options.hpp>

namespace bpfbatch::cli {

// load --mode: how each entry meets the map (BPF_ANY, BPF_EXIST, BPF_NOEXIST).
enum class load_mode { any, exist, noexist };

// A map as the command line names it: id N, pinned PATH or name NAME.
struct selector {
  std::string_view kind;   // "id", "pinned" or "name"
  std::string_view value;  // the text after kind
  std::uint32_t id = 0;    // value as a number, for "id"

  bool operator==(const selector&) const = default;
};

// Each field is a view into the argument strings, which must outlive it.
struct arguments {
  // dump, drain, load, copy, info, list, demo, help or one of bpftool's
  // element verbs (lookup, update, ...); empty with --help alone.
  // `help COMMAND` and `COMMAND --help` both give COMMAND with help set.
  std::string_view command;
  std::string_view selector_kind;   // "id", "pinned" or "name"; empty for list and demo
  std::string_view selector_value;  // the text after selector_kind
  std::uint32_t id = 0;             // selector_value as a number, for "id"
  bool json = false;
  bool pretty = false;  // -p: JSON indented as bpftool -p prints it (json is set too)
  bool bpffs = false;   // -f: info and list name each map's pinned paths
  bool quiet = false;
  bool sum = false;
  bool count = false;
  bool no_btf = false;   // --no-btf: keys and values as hex bytes only, even where the map has BTF
  bool help = false;     // help for the command (or the tool): nothing else is checked
  bool version = false;  // print the version: nothing else is checked
  std::uint32_t batch_size = 0;
  iteration method = iteration::automatic;
  std::uint32_t threads = 1;  // --threads: shards read at once; 0 is "auto"
  std::uint32_t entries = 100'000;
  std::string_view input;  // load: the document's file, "-" or empty for stdin
  load_mode mode = load_mode::any;
  selector destination;  // copy: the map written into
  bool drain = false;    // copy --drain: move the elements (deleted from the source)
  // bpftool's element verbs (elements.cpp): the words after the map (for
  // create, every word after the verb), read by the verb itself.
  std::vector<std::string_view> operands;

  bool operator==(const arguments&) const = default;
};

struct parsed_arguments {
  arguments args;
  std::string usage_error;  // empty when args can be used
};

// Parses argv[1..]: what each option means is in the tool's --help.
parsed_arguments parse_arguments(std::span<const std::string_view> words);

// bpftool's map verbs on elements and maps (lookup, update, pin, ...).
bool is_element_verb(std::string_view command) noexcept;

// A word from the command line made fit for a one-line message: control
// characters (a newline in a path) and bytes that are not UTF-8 are
// written as \xHH.
std::string escaped(std::string_view text);

// A decimal u32 without sign, spaces or trailing text.
std::optional<std::uint32_t> parse_u32(std::string_view text) noexcept;

// The most shards --threads N asks for.
inline constexpr std::uint32_t max_threads = 64;  // each shard's buffers take up to 1 MiB

// The largest --entries the demo accepts.
inline constexpr std::uint32_t max_demo_entries = 10'000'000;

}  // namespace bpfbatch::cli
