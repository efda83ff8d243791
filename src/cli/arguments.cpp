#include "arguments.hpp"

#include <charconv>

namespace bpfbatch::cli {

namespace {

// Options that only some commands use; given to another, they are an error
// rather than silently ignored.
enum given_option : unsigned {
  given_batch_size = 1u << 0,
  given_method = 1u << 1,
  given_sum = 1u << 2,
  given_count = 1u << 3,
  given_entries = 1u << 4,
  given_json = 1u << 5,
  given_threads = 1u << 6,
  given_no_btf = 1u << 7,
  given_mode = 1u << 8,
  given_drain = 1u << 9,
};

bool is_dump(std::string_view command) { return command == "dump" || command == "drain"; }
bool takes_map(std::string_view command) {
  return is_dump(command) || command == "info" || command == "load" || command == "copy" ||
         (is_element_verb(command) && command != "create");
}
bool is_command(std::string_view command) {
  return takes_map(command) || command == "list" || command == "demo" || command == "help" ||
         command == "create";
}

// BPF_OBJ_NAME_LEN is 16 bytes with the terminating NUL.
constexpr std::size_t max_map_name = 15;

std::string quoted(std::string_view text) {
  std::string out = "'";
  out += escaped(text);
  out += '\'';
  return out;
}

// Why the options given do not fit the command, or empty.
std::string misplaced_option(std::string_view command, unsigned given) {
  if (!is_dump(command) && command != "load" && command != "copy" && (given & given_batch_size))
    return "--batch-size applies to dump, drain, load and copy";
  if (command != "copy" && (given & given_drain)) return "--drain applies to copy";
  if (command != "load" && (given & given_mode)) return "--mode applies to load";
  if (!is_dump(command)) {
    if (given & given_method) return "--method applies to dump and drain";
    if (given & given_sum) return "--sum applies to dump and drain";
    if (given & given_count) return "--count applies to dump and drain";
    if (given & given_threads) return "--threads applies to dump and drain";
    if (given & given_no_btf) return "--no-btf applies to dump and drain";
  }
  if (command != "demo" && (given & given_entries)) return "--entries applies to demo";
  if (command == "demo" && (given & given_json))
    return "--json applies to dump, drain, info, list and the element verbs";
  if ((given & given_sum) && (given & given_count)) return "--sum and --count cannot be used together";
  return {};
}

bool is_selector(std::string_view word) { return word == "id" || word == "pinned" || word == "name"; }

// Why a selector's value does not fit its kind, or empty; sets the id.
std::string check_selector(selector& which) {
  if (which.kind == "id") {
    auto id = parse_u32(which.value);
    if (!id) return "id takes a number";
    which.id = *id;
  } else if (which.kind == "pinned") {
    if (which.value.empty()) return "pinned takes a path";
  } else if (which.value.empty() || which.value.size() > max_map_name) {
    return "name takes a map name of 1 to 15 characters";
  }
  return {};
}

bool takes_value(std::string_view word) {
  return word == "--batch-size" || word == "--entries" || word == "--method" || word == "--threads" ||
         word == "--mode";
}

// An option with a value: what it sets, or why the value does not fit.
std::string take_value(std::string_view word, std::string_view value, arguments& a, unsigned& given) {
  if (word == "--batch-size") {
    auto n = parse_u32(value);
    if (!n || *n == 0) return "--batch-size takes a number from 1 to 4294967295";
    a.batch_size = *n;
    given |= given_batch_size;
  } else if (word == "--entries") {
    auto n = parse_u32(value);
    if (!n || *n == 0 || *n > max_demo_entries)
      return "--entries takes a number from 1 to " + std::to_string(max_demo_entries);
    a.entries = *n;
    given |= given_entries;
  } else if (word == "--threads") {
    auto n = parse_u32(value);
    if (value != "auto" && (!n || *n == 0 || *n > max_threads))
      return "--threads takes auto or a number from 1 to " + std::to_string(max_threads);
    a.threads = n ? *n : 0;
    given |= given_threads;
  } else if (word == "--mode") {
    if (value == "any")
      a.mode = load_mode::any;
    else if (value == "exist")
      a.mode = load_mode::exist;
    else if (value == "noexist")
      a.mode = load_mode::noexist;
    else
      return "--mode takes any, exist or noexist";
    given |= given_mode;
  } else if (value == "auto") {  // --method
    a.method = iteration::automatic;
  } else if (value == "batch") {
    a.method = iteration::batch;
  } else if (value == "walk") {
    a.method = iteration::key_walk;
  } else {
    return "--method takes auto, batch or walk";
  }
  if (word == "--method") given |= given_method;
  return {};
}

}  // namespace

bool is_element_verb(std::string_view command) noexcept {
  for (std::string_view verb : {"lookup", "update", "delete", "getnext", "peek", "push", "pop", "enqueue",
                                "dequeue", "pin", "freeze", "create"})
    if (command == verb) return true;
  return false;
}

std::string escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::uint32_t> parse_u32(std::string_view text) noexcept {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

parsed_arguments parse_arguments(std::span<const std::string_view> words) {
  parsed_arguments parsed;
  arguments& a = parsed.args;
  auto fail = [&](std::string text) {
    parsed.usage_error = std::move(text);
    return parsed;
  };
  unsigned given = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string_view word = words[i];
    const bool has_value = i + 1 < words.size();
    if (word == "-h" || word == "--help") {
      a.help = true;
    } else if (word == "-V" || word == "--version") {
      a.version = true;
      return parsed;
    } else if (word == "-j" || word == "--json") {
      a.json = true;
      given |= given_json;
    } else if (word == "-q" || word == "--quiet") {
      a.quiet = true;
    } else if (word == "--sum") {
      a.sum = true;
      given |= given_sum;
    } else if (word == "--count") {
      a.count = true;
      given |= given_count;
    } else if (word == "--drain") {
      a.drain = true;
      given |= given_drain;
    } else if (word == "--no-btf") {
      a.no_btf = true;
      given |= given_no_btf;
    } else if (takes_value(word)) {
      if (!has_value) return fail(std::string(word) + " needs a value");
      if (auto why = take_value(word, words[++i], a, given); !why.empty()) return fail(why);
    } else if (a.command == "load" && !a.selector_kind.empty() && a.input.empty() &&
               (word == "-" || (!word.empty() && word[0] != '-'))) {
      a.input = word;
    } else if (!word.empty() && word[0] == '-') {
      return fail("unknown option " + quoted(word));
    } else if (a.command.empty()) {
      if (word.empty()) return fail("unknown command ''");
      a.command = word;
    } else if (is_element_verb(a.command) && (a.command == "create" || !a.selector_kind.empty())) {
      a.operands.push_back(word);
    } else if (a.selector_kind.empty() && is_selector(word)) {
      if (!has_value) return fail(std::string(word) + " needs a value");
      a.selector_kind = word;
      a.selector_value = words[++i];
    } else if (a.command == "copy" && a.destination.kind.empty() && is_selector(word)) {
      if (!has_value) return fail(std::string(word) + " needs a value");
      a.destination.kind = word;
      a.destination.value = words[++i];
    } else {
      return fail("unexpected argument " + quoted(word));
    }
  }

  if (a.command.empty()) {
    if (a.help) return parsed;
    return fail("a command is needed: dump, drain, load, copy, info, list or demo");
  }
  if (!is_command(a.command)) return fail("unknown command " + quoted(a.command));
  if (a.command == "help") {
    if (!a.selector_kind.empty()) return fail("help takes no map");
    a.help = true;
  }
  if (a.help) return parsed;

  if (takes_map(a.command)) {
    if (a.selector_kind.empty())
      return fail(std::string(a.command) + " needs a map: id N, pinned PATH or name NAME");
    selector source{a.selector_kind, a.selector_value};
    if (auto why = check_selector(source); !why.empty()) return fail(why);
    a.id = source.id;
    if (a.command == "copy") {
      if (a.destination.kind.empty())
        return fail("copy needs a second map to write into: id N, pinned PATH or name NAME");
      if (auto why = check_selector(a.destination); !why.empty()) return fail(why);
    }
  } else if (!a.selector_kind.empty()) {
    return fail(std::string(a.command) + " takes no map");
  }
  if (auto why = misplaced_option(a.command, given); !why.empty()) return fail(why);
  return parsed;
}

}  // namespace bpfbatch::cli
