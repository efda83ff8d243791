#include "arguments.hpp"

#include <charconv>
#include <vector>

namespace bpfbatch::cli {

namespace {

// Every option has a bit; a command lists the bits it accepts, so that an
// option given to a command it does not apply to is an error rather than
// silently ignored.
enum option_bit : unsigned {
  bit_batch_size = 1u << 0,
  bit_method = 1u << 1,
  bit_sum = 1u << 2,
  bit_count = 1u << 3,
  bit_entries = 1u << 4,
  bit_json = 1u << 5,
  bit_threads = 1u << 6,
  bit_no_btf = 1u << 7,
  bit_mode = 1u << 8,
  bit_pretty = 1u << 9,
  bit_bpffs = 1u << 10,
  bit_quiet = 1u << 11,
  bit_drain = 1u << 12,
};

struct option_spec {
  char short_name;  // '\0': only the long form
  std::string_view long_name;
  bool takes_value;
  unsigned bit;  // 0: --help and --version, which every command takes
};

// getopt_long's model: --name, --name=value or --name value, a unique prefix
// of a long name, short options bundled (-jq).
constexpr option_spec option_table[] = {
    {'h', "help", false, 0},
    {'V', "version", false, 0},
    {'j', "json", false, bit_json},
    {'p', "pretty", false, bit_pretty},
    {'q', "quiet", false, bit_quiet},
    {'f', "bpffs", false, bit_bpffs},
    {'\0', "sum", false, bit_sum},
    {'\0', "count", false, bit_count},
    {'\0', "no-btf", false, bit_no_btf},
    {'\0', "drain", false, bit_drain},
    {'\0', "batch-size", true, bit_batch_size},
    {'\0', "method", true, bit_method},
    {'\0', "threads", true, bit_threads},
    {'\0', "mode", true, bit_mode},
    {'\0', "entries", true, bit_entries},
};

// What may follow a command's map selector (for create, the command).
enum class operand_kind {
  none,
  input_file,    // load: FILE or -, optional
  second_map,    // copy: the destination's selector
  words,         // bpftool's element verbs: read by the verb itself (elements.cpp)
  optional_map,  // show: a map, or none for every map
};

// A command: whether a map selector follows it, what follows the selector,
// and the options it accepts. A new verb is one row here and one branch in
// main.cpp's dispatch.
struct command_spec {
  std::string_view name;
  bool takes_map;
  operand_kind operands;
  unsigned options;
};

constexpr unsigned dump_options = bit_batch_size | bit_method | bit_sum | bit_count | bit_json | bit_pretty |
                                  bit_threads | bit_no_btf | bit_quiet;

constexpr unsigned element_options = bit_json | bit_pretty | bit_quiet;

constexpr command_spec command_table[] = {
    {"dump", true, operand_kind::none, dump_options},
    {"drain", true, operand_kind::none, dump_options},
    {"load", true, operand_kind::input_file, bit_batch_size | bit_mode | bit_json | bit_pretty | bit_quiet},
    {"copy", true, operand_kind::second_map, bit_batch_size | bit_drain | bit_json | bit_pretty | bit_quiet},
    {"info", true, operand_kind::none, bit_json | bit_pretty | bit_bpffs | bit_quiet},
    {"list", false, operand_kind::none, bit_json | bit_pretty | bit_bpffs | bit_quiet},
    {"show", false, operand_kind::optional_map, bit_json | bit_pretty | bit_bpffs | bit_quiet},
    {"demo", false, operand_kind::none, bit_entries | bit_quiet},
    {"lookup", true, operand_kind::words, element_options},
    {"update", true, operand_kind::words, element_options},
    {"delete", true, operand_kind::words, element_options},
    {"getnext", true, operand_kind::words, element_options},
    {"peek", true, operand_kind::words, element_options},
    {"push", true, operand_kind::words, element_options},
    {"pop", true, operand_kind::words, element_options},
    {"enqueue", true, operand_kind::words, element_options},
    {"dequeue", true, operand_kind::words, element_options},
    {"pin", true, operand_kind::words, element_options},
    {"freeze", true, operand_kind::words, element_options},
    {"create", false, operand_kind::words, element_options},
    {"help", false, operand_kind::none, ~0u},
};

const command_spec* find_command(std::string_view name) {
  for (const command_spec& c : command_table)
    if (c.name == name) return &c;
  return nullptr;
}

bool is_selector_kind(std::string_view word) { return word == "id" || word == "pinned" || word == "name"; }

// BPF_OBJ_NAME_LEN is 16 bytes with the terminating NUL.
constexpr std::size_t max_map_name = 15;

std::string quoted(std::string_view text) {
  std::string out = "'";
  out += escaped(text);
  out += '\'';
  return out;
}

// "dump, drain and load": the commands that accept an option.
std::string commands_taking(unsigned bit) {
  std::vector<std::string_view> names;
  for (const command_spec& c : command_table)
    if (c.name != "help" && (c.options & bit)) names.push_back(c.name);
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
    out += names[i];
  }
  return out;
}

// Why the options given do not fit the command, or empty.
std::string misplaced_option(const command_spec& command, unsigned given) {
  for (const option_spec& o : option_table)
    if ((given & o.bit) && !(command.options & o.bit))
      return "--" + std::string(o.long_name) + " applies to " + commands_taking(o.bit);
  if ((given & bit_sum) && (given & bit_count)) return "--sum and --count cannot be used together";
  return {};
}

// An option with a value: what it sets, or why the value does not fit.
std::string take_value(std::string_view name, std::string_view value, arguments& a) {
  if (name == "batch-size") {
    auto n = parse_u32(value);
    if (!n || *n == 0) return "--batch-size takes a number from 1 to 4294967295";
    a.batch_size = *n;
  } else if (name == "entries") {
    auto n = parse_u32(value);
    if (!n || *n == 0 || *n > max_demo_entries)
      return "--entries takes a number from 1 to " + std::to_string(max_demo_entries);
    a.entries = *n;
  } else if (name == "threads") {
    auto n = parse_u32(value);
    if (value != "auto" && (!n || *n == 0 || *n > max_threads))
      return "--threads takes auto or a number from 1 to " + std::to_string(max_threads);
    a.threads = n ? *n : 0;
  } else if (name == "mode") {
    if (value == "any")
      a.mode = load_mode::any;
    else if (value == "exist")
      a.mode = load_mode::exist;
    else if (value == "noexist")
      a.mode = load_mode::noexist;
    else
      return "--mode takes any, exist or noexist";
  } else if (value == "auto") {  // method
    a.method = iteration::automatic;
  } else if (value == "batch") {
    a.method = iteration::batch;
  } else if (value == "walk") {
    a.method = iteration::key_walk;
  } else {
    return "--method takes auto, batch or walk";
  }
  return {};
}

void set_flag(std::string_view name, arguments& a) {
  if (name == "help") a.help = true;
  if (name == "version") a.version = true;
  if (name == "json") a.json = true;
  if (name == "pretty") a.json = a.pretty = true;  // bpftool's -p implies -j
  if (name == "quiet") a.quiet = true;
  if (name == "bpffs") a.bpffs = true;
  if (name == "sum") a.sum = true;
  if (name == "count") a.count = true;
  if (name == "no-btf") a.no_btf = true;
  if (name == "drain") a.drain = true;
}

// The long option a --name names: an exact match, else the one option it is
// a prefix of; nullptr with `error` set when none or several are.
const option_spec* find_long(std::string_view name, std::string_view word, std::string& error) {
  const option_spec* found = nullptr;
  bool ambiguous = false;
  for (const option_spec& o : option_table) {
    if (o.long_name == name) return &o;
    if (!name.empty() && o.long_name.starts_with(name)) {
      ambiguous = found != nullptr;
      found = &o;
    }
  }
  if (ambiguous) {
    error = "option " + quoted(word) + " is ambiguous";
    return nullptr;
  }
  if (!found) error = "unknown option " + quoted(word);
  return found;
}

// Reads the options out of the words and keeps the rest, in order, as the
// positional words; `--` ends the options.
class option_reader {
 public:
  option_reader(std::span<const std::string_view> words, arguments& a) : words_(words), a_(a) {}

  // The usage error, or empty.
  std::string read() {
    for (next_ = 0; next_ < words_.size() && !a_.version;) {
      const std::string_view word = words_[next_++];
      std::string error;
      if (word == "--") {
        positional_.insert(positional_.end(), words_.begin() + static_cast<std::ptrdiff_t>(next_),
                           words_.end());
        break;
      }
      if (word.starts_with("--"))
        error = read_long(word);
      else if (word.size() > 1 && word[0] == '-')
        error = read_short(word);
      else
        positional_.push_back(word);
      if (!error.empty()) return error;
    }
    return {};
  }

  unsigned given() const { return given_; }
  std::span<const std::string_view> positional() const { return positional_; }

 private:
  std::string apply(const option_spec& o, std::optional<std::string_view> value) {
    given_ |= o.bit;
    if (!o.takes_value) {
      set_flag(o.long_name, a_);
      return {};
    }
    if (!value) {
      if (next_ == words_.size()) return "--" + std::string(o.long_name) + " needs a value";
      value = words_[next_++];
    }
    return take_value(o.long_name, *value, a_);
  }

  std::string read_long(std::string_view word) {
    const std::size_t equals = word.find('=');
    const std::string_view name = word.substr(2, equals == std::string_view::npos ? word.npos : equals - 2);
    std::string error;
    const option_spec* o = find_long(name, word.substr(0, equals), error);
    if (!o) return error;
    if (equals == std::string_view::npos) return apply(*o, std::nullopt);
    if (!o->takes_value) return "--" + std::string(o->long_name) + " takes no value";
    return apply(*o, word.substr(equals + 1));
  }

  // -jq: each letter an option; one that takes a value takes the rest of
  // the word, or the next word.
  std::string read_short(std::string_view word) {
    for (std::size_t i = 1; i < word.size(); ++i) {
      const option_spec* o = nullptr;
      for (const option_spec& candidate : option_table)
        if (candidate.short_name != '\0' && candidate.short_name == word[i]) o = &candidate;
      if (!o) {
        std::string error = "unknown option " + quoted(std::string("-") + word[i]);
        return word.size() > 2 ? error + " in " + quoted(word) : error;
      }
      if (o->takes_value && i + 1 < word.size()) return apply(*o, word.substr(i + 1));
      if (auto error = apply(*o, std::nullopt); !error.empty()) return error;
    }
    return {};
  }

  std::span<const std::string_view> words_;
  arguments& a_;
  std::size_t next_ = 0;
  unsigned given_ = 0;
  std::vector<std::string_view> positional_;
};

// A selector read from two words (KIND VALUE), checked and, for id, read;
// `what` names it in the error when the words are not one.
std::string read_selector(std::span<const std::string_view> words, selector& which, std::string_view what) {
  if (words.empty() || !is_selector_kind(words[0]))
    return std::string(what) + ": id N, pinned PATH or name NAME";
  if (words.size() < 2) return std::string(words[0]) + " needs a value";
  which.kind = words[0];
  which.value = words[1];
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

// `help [map] [COMMAND]`: the command's help, or the tool's.
std::string read_help_topic(std::span<const std::string_view> words, arguments& a) {
  a.help = true;
  if (!words.empty() && words[0] == "map") words = words.subspan(1);
  if (words.empty()) return {};
  if (words.size() > 1) return "help takes one command";
  if (!find_command(words[0])) return "unknown command " + quoted(words[0]);
  if (words[0] != "help") a.command = words[0];
  return {};
}

// The map selector and operand words after a command that takes a map.
std::string read_map_operands(const command_spec& command, std::span<const std::string_view> words,
                              arguments& a) {
  selector source;
  if (auto error = read_selector(words, source, std::string(command.name) + " needs a map"); !error.empty())
    return error;
  a.selector_kind = source.kind;
  a.selector_value = source.value;
  a.id = source.id;
  auto operands = words.subspan(2);
  switch (command.operands) {
    case operand_kind::words:
      a.operands.assign(operands.begin(), operands.end());
      return {};
    case operand_kind::second_map:
      if (auto error = read_selector(operands, a.destination, "copy needs a second map to write into");
          !error.empty())
        return error;
      operands = operands.subspan(2);
      break;
    case operand_kind::input_file:
      if (operands.empty()) break;
      if (operands[0].empty()) return std::string(command.name) + " takes a file name or -";
      a.input = operands[0];
      operands = operands.subspan(1);
      break;
    case operand_kind::none:
    case operand_kind::optional_map:
      break;
  }
  if (!operands.empty()) return "unexpected argument " + quoted(operands[0]);
  return {};
}

// The positional words: [map] COMMAND [SELECTOR VALUE] [OPERANDS].
std::string read_positional(std::span<const std::string_view> words, arguments& a, unsigned given) {
  if (!words.empty() && words[0] == "map") words = words.subspan(1);
  if (words.empty())
    return a.help ? std::string()
                  : "a command is needed: dump, drain, load, copy, info, list, demo or a map verb";
  const command_spec* command = find_command(words[0]);
  if (!command) return "unknown command " + quoted(words[0]);
  a.command = command->name;
  if (command->name == "help") return read_help_topic(words.subspan(1), a);
  if (a.help) return {};
  const auto rest = words.subspan(1);
  if (command->takes_map) {
    if (auto error = read_map_operands(*command, rest, a); !error.empty()) return error;
  } else if (command->operands == operand_kind::optional_map && !rest.empty()) {
    if (auto error = read_map_operands(*command, rest, a); !error.empty()) return error;
  } else if (command->operands == operand_kind::words) {
    a.operands.assign(rest.begin(), rest.end());  // create FILE type ...
  } else if (!rest.empty()) {
    return is_selector_kind(rest[0]) ? std::string(command->name) + " takes no map"
                                     : "unexpected argument " + quoted(rest[0]);
  }
  return misplaced_option(*command, given);
}

}  // namespace

bool is_element_verb(std::string_view command) noexcept {
  const command_spec* c = find_command(command);
  return c != nullptr && c->operands == operand_kind::words;
}

namespace {

// The length of the well-formed UTF-8 sequence at text[at] (RFC 3629: no
// overlong form, no surrogate, nothing past U+10FFFF), or 0.
std::size_t utf8_length(std::string_view text, std::size_t at) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  std::size_t n = 0;
  unsigned char low = 0x80, high = 0xbf;  // the second byte's range
  if (lead >= 0xc2 && lead <= 0xdf) {
    n = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3;
    low = lead == 0xe0 ? 0xa0 : 0x80;
    high = lead == 0xed ? 0x9f : 0xbf;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4;
    low = lead == 0xf0 ? 0x90 : 0x80;
    high = lead == 0xf4 ? 0x8f : 0xbf;
  }
  if (n == 0 || at + n > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (std::size_t i = 2; i < n; ++i)
    if (byte(at + i) < 0x80 || byte(at + i) > 0xbf) return 0;
  return n;
}

}  // namespace

// -j's error object holds the message: it stays valid JSON (UTF-8).
std::string escaped(std::string_view text) {
  std::string out;
  for (std::size_t at = 0; at < text.size();) {
    const auto byte = static_cast<unsigned char>(text[at]);
    const std::size_t n = utf8_length(text, at);
    if (n == 0 || byte < 0x20 || byte == 0x7f) {
      constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 15];
      ++at;
    } else {
      out.append(text.substr(at, n));
      at += n;
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
  option_reader reader(words, parsed.args);
  parsed.usage_error = reader.read();
  if (!parsed.usage_error.empty() || parsed.args.version) return parsed;
  parsed.usage_error = read_positional(reader.positional(), parsed.args, reader.given());
  return parsed;
}

}  // namespace bpfbatch::cli
