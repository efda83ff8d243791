// bpftool's map verbs on one element or one map (lookup, update, delete,
// getnext, peek, push, pop, enqueue, dequeue, pin, freeze, create), with
// bpftool's words (tools/bpf/bpftool/map.c) and the same stdout: what it
// prints on success, "null" with -j where it prints nothing, and on stdout
// what it prints there on failure ("Not found", "Error: empty map").
#include <linux/bpf.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <bpfbatch/error.hpp>

#include "bpftool_words.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "entries.hpp"
#include "output.hpp"
#include "put_back.hpp"
#include "signals.hpp"

namespace bpfbatch::cli {

namespace {

[[noreturn]] void refuse(std::string_view subject, std::string_view verb, std::string_view why,
                         int status = exit_usage) {
  print_error(joined({subject, ": ", verb, ": ", why}));
  std::exit(status);
}

element_words words_for(const arguments& o, const map& m, unsigned parts) {
  element_words w = parse_element_words(o.operands, m.info(), parts);
  if (!w.error.empty()) refuse(subject_of(o), o.command, w.error);
  return w;
}

bool is(std::error_code error, int errno_value) { return error == make_error(errno_value); }

// A failed element command: the causes a script meets most (a missing key,
// a full map) in words about the key; others as every command says them.
[[noreturn]] void element_failed(const arguments& o, const map& m, std::error_code error, command failed,
                                 std::uint64_t flags = BPF_ANY) {
  const char* cause = nullptr;
  if (is(error, ENOENT))
    cause = flags == BPF_EXIST ? "the key is not in the map (exist)" : "the key is not in the map";
  if (is(error, EEXIST)) cause = "the key is already in the map (noexist)";
  // Arrays answer E2BIG for an index past max_entries (array_map_update_elem)
  // and EINVAL to any delete (array_map_delete_elem).
  const bool array = is_array(m.info().type);
  if (is(error, E2BIG)) cause = array ? "the key is past the array's end (max_entries)" : "the map is full";
  if (is(error, EINVAL) && array && failed == command::map_delete_elem)
    cause = "an array's elements cannot be deleted";
  if (is(error, EPERM) && failed == command::map_freeze)
    cause = "operation not permitted: the map is frozen already, or opened read-only";
  if (is(error, EBUSY) && failed == command::map_freeze) cause = "the map is mapped writable (mmap)";
  if (cause == nullptr) fail(subject_of(o), error, &m.info(), failed);
  print_error(joined({subject_of(o), ": ", command_name(failed), ": ", cause}));
  std::exit(exit_failure);
}

// bpftool -j prints null after a verb that prints nothing.
int done_quietly(const arguments& o) {
  output out(1);
  set_up_stdout(out, o);
  if (o.json) out.put("null\n");
  return finish(out, subject_of(o));
}

// One element, printed as bpftool's print_key_value. The formats are made
// before the element is read, so that a BTF that cannot be read stops a pop
// before it removes anything.
class element_printer {
 public:
  element_printer(const arguments& o, const map& m)
      : o_(o), info_(m.info()), formats_(btf_formats_for(o, m)) {}

  int print(std::span<const std::byte> key, std::span<const std::byte> value) const {
    output out(1);
    put(out, key, value);
    return finish(out, subject_of(o_));
  }

  // For an element taken from the map: the errno of a write that failed
  // (EPIPE included, which finish turns into a silent exit), else 0.
  int print_taken(std::span<const std::byte> value) const {
    output out(1);
    out.stop_on_signals();  // a stalled reader: a stop signal ends the wait (EINTR)
    put(out, {}, value);
    return out.flush();
  }

 private:
  void put(output& out, std::span<const std::byte> key, std::span<const std::byte> value) const {
    const entry_format format{.info = info_,
                              .json = o_.json,
                              .key_btf = formats_.key ? &*formats_.key : nullptr,
                              .value_btf = formats_.value ? &*formats_.value : nullptr,
                              .btf_layout = false,
                              .empty_key_in_json = true,
                              .scratch = {}};
    const element e{.key = key,
                    .value = value,
                    .copies = info_.value_copies,
                    .value_size = info_.value_size,
                    .stride = static_cast<std::size_t>(info_.per_cpu_stride())};
    set_up_stdout(out, o_);
    print_element(out, format, e);
  }

  const arguments& o_;
  const map_info& info_;
  btf_formats formats_;
};

// lookup and peek (bpftool's do_lookup serves both).
int run_lookup(const arguments& o) {
  const map m = open_selected(o, access::read_only);
  const map_info& info = m.info();
  const element_words w = words_for(o, m, takes_key);
  const element_printer printer(o, m);
  std::vector<std::byte> value(static_cast<std::size_t>(info.value_bytes()));
  const auto found = info.key_size == 0 ? m.peek(value) : m.lookup_element(w.key, value);
  if (!found && is(found.error(), ENOENT)) {
    output out(1);
    set_up_stdout(out, o);
    if (o.json)
      out.put("null\n");
    else
      out.put("key:\n").hex_bytes(w.key).put("\n\nNot found\n");
    (void)finish(out, subject_of(o));
    return exit_failure;
  }
  if (!found) element_failed(o, m, found.error(), command::map_lookup_elem);
  return printer.print(w.key, value);
}

// A MAP named by two words (a map of maps' value, create's inner_map),
// opened as the tool opens any MAP; subject names what it is for.
map open_named_map(const std::string& subject, std::string_view what, std::string_view kind,
                   std::string_view ref) {
  arguments named;
  named.selector_kind = kind;
  named.selector_value = ref;
  if (kind == "id") {
    auto id = parse_u32(ref);
    if (!id) refuse(subject, what, "id takes a number");
    named.id = *id;
  } else if (kind != "pinned" && kind != "name") {
    refuse(subject, what, "takes a MAP: id N, pinned PATH or name NAME");
  }
  return open_selected(named, access::read_only);
}

// update, push and enqueue (do_update).
int run_update(const arguments& o) {
  const map m = open_selected(o, access::read_write);
  element_words w = words_for(o, m, takes_key | takes_value | takes_flags);
  std::optional<map> inner;
  if (!w.value_map_kind.empty()) {
    // The kernel takes the inner map's descriptor, and keeps the map itself.
    inner.emplace(open_named_map(subject_of(o), "value", w.value_map_kind, w.value_map_ref));
    const auto fd = static_cast<std::uint32_t>(inner->fd());
    std::memcpy(w.value.data(), &fd, sizeof(fd));
  }
  const auto written =
      m.info().key_size == 0 ? m.push(w.value, w.flags) : m.update_element(w.key, w.value, w.flags);
  if (!written) element_failed(o, m, written.error(), command::map_update_elem, w.flags);
  return done_quietly(o);
}

int run_delete(const arguments& o) {
  const map m = open_selected(o, access::read_write);
  const element_words w = words_for(o, m, takes_key);
  if (auto deleted = m.delete_element(w.key); !deleted)
    element_failed(o, m, deleted.error(), command::map_delete_elem);
  return done_quietly(o);
}

// getnext MAP [key K]: without a key, the first key.
int run_getnext(const arguments& o) {
  const map m = open_selected(o, access::read_only);
  const std::uint32_t key_size = m.info().key_size;
  const element_words w = o.operands.empty() ? element_words{} : words_for(o, m, takes_key);
  std::vector<std::byte> next(key_size);
  if (auto got = m.next_key(w.key, next); !got) {
    // After the last key ENOENT means the end, not a missing key.
    if (is(got.error(), ENOENT)) refuse(subject_of(o), "getnext", "no next key", exit_failure);
    element_failed(o, m, got.error(), command::map_get_next_key);
  }
  output out(1);
  set_up_stdout(out, o);
  if (o.json) {
    out.put("{\"key\":");
    (o.operands.empty() ? out.put("null") : out.json_bytes(w.key)).put(",\"next_key\":").json_bytes(next);
    out.put("}\n");
  } else {
    (o.operands.empty() ? out.put("key: None\n") : out.put("key:\n").hex_bytes(w.key).put('\n'));
    out.put("next key:\n").hex_bytes(next).put('\n');
  }
  return finish(out, subject_of(o));
}

// pop and dequeue (do_pop_dequeue).
int run_pop(const arguments& o) {
  const map m = open_selected(o, access::read_write);
  const map_info& info = m.info();
  (void)words_for(o, m, 0);  // no words
  // bpftool hands the kernel an unset key for a map with keys: an element
  // chosen by chance would be deleted.
  if (info.key_size != 0)
    refuse(subject_of(o), o.command, "takes a queue or a stack; lookup then delete remove a keyed element",
           exit_failure);
  const element_printer printer(o, m);
  std::vector<std::byte> value(static_cast<std::size_t>(info.value_bytes()));
  // The popped value is in no map until printed: the stop signals wait,
  // SIGPIPE is ignored, and a value that cannot be printed goes back.
  stop_between_batches();
  if (auto popped = m.pop(value); !popped) {
    if (!is(popped.error(), ENOENT))
      element_failed(o, m, popped.error(), command::map_lookup_and_delete_elem);
    output out(1);
    set_up_stdout(out, o);
    out.put(o.json ? "null\n" : "Error: empty map\n");  // bpftool prints it on stdout
    (void)finish(out, subject_of(o));
    return exit_failure;
  }
  const int err = printer.print_taken(value);
  if (err == 0) return 0;
  put_back_counts back;
  put_back(m, {}, value, back);
  print_error(joined({subject_of(o), ": cannot write output: ", std::strerror(err),
                      back.restored != 0 ? "; the value was put back into the map"
                                         : "; the value could not be put back and is lost"}));
  if (const int signal = stop_signal(); signal != 0) end_by_signal(signal);
  return exit_failure;
}

// Why BPF_OBJ_PIN failed, in words about the path.
std::string pin_failure(std::error_code error) {
  if (is(error, EEXIST)) return "a file is already there";
  if (is(error, EPERM))
    return "operation not permitted: not in a BPF filesystem (mount -t bpf bpf DIR), or a name with a dot";
  if (is(error, ENOENT)) return "no such directory";
  return error.message();
}

// Pins m at path, or says why not and exits.
void pin_or_fail(std::string_view subject, const map& m, std::string_view path) {
  const std::string file(path);
  if (auto pinned = m.pin(file.c_str()); !pinned) {
    print_error(joined({subject, ": pin at ", escaped(path), ": ", pin_failure(pinned.error())}));
    std::exit(exit_failure);
  }
}

int run_pin(const arguments& o) {
  if (o.operands.size() != 1) refuse(subject_of(o), "pin", "takes one FILE: pin MAP FILE");
  const map m = open_selected(o, access::read_only);
  pin_or_fail(subject_of(o), m, o.operands.front());
  return done_quietly(o);
}

int run_freeze(const arguments& o) {
  if (!o.operands.empty())
    refuse(subject_of(o), "freeze", joined({"unexpected argument '", escaped(o.operands.front()), "'"}));
  const map m = open_selected(o, access::read_write);
  if (auto frozen = m.freeze(); !frozen) element_failed(o, m, frozen.error(), command::map_freeze);
  return done_quietly(o);
}

// bpftool's TYPE names (map_type_from_str): the library's map_type_name.
std::optional<map_type> map_type_named(std::string_view name) {
  for (std::uint32_t t = 1; t <= static_cast<std::uint32_t>(map_type::arena); ++t)
    if (map_type_name(static_cast<map_type>(t)) == name) return static_cast<map_type>(t);
  return std::nullopt;
}

// What `create FILE ...` asks for; the inner map (a template for maps of
// maps) stays open until the map is made.
struct create_request {
  std::string_view file;
  map_spec spec;
  bool has_type = false;
  std::optional<map> inner;
};

// What create's messages are about.
std::string create_subject(std::string_view file) { return joined({"create ", escaped(file)}); }

// `inner_map MAP` at words[at].
map open_inner_map(const arguments& o, std::span<const std::string_view> words, std::size_t at) {
  const std::string subject = create_subject(o.operands.front());
  if (at + 1 >= words.size()) refuse(subject, "inner_map", "takes a MAP: id N, pinned PATH or name NAME");
  return open_named_map(subject, "inner_map", words[at], words[at + 1]);
}

// The words after FILE, as do_create reads them (prefixes included).
create_request read_create_words(const arguments& o) {
  create_request r;
  const std::span<const std::string_view> words = o.operands;
  r.file = words.front();
  const std::string subject = create_subject(r.file);
  // bpftool's parse_u32_arg refuses a second value where the first was
  // not 0; taking the last one would create a map unlike bpftool's.
  auto number = [&](std::size_t at, const char* what, std::uint32_t& field) {
    const auto n = parse_number(words[at]);
    if (!n) refuse(subject, "create", joined({"can't parse '", escaped(words[at]), "' as ", what}));
    if (field != 0) refuse(subject, "create", joined({what, " already specified"}));
    field = *n;
  };
  for (std::size_t at = 1; at < words.size(); at += 2) {
    const std::string_view word = words[at];
    if (at + 1 >= words.size()) refuse(subject, "create", joined({"'", escaped(word), "' needs a value"}));
    const std::string_view next = words[at + 1];
    if (is_prefix(word, "type")) {
      const auto type = map_type_named(next);
      if (r.has_type) refuse(subject, "create", "map type already specified");
      if (!type) refuse(subject, "create", joined({"unrecognized map type: ", escaped(next)}));
      r.spec.type = *type;
      r.has_type = true;
    } else if (is_prefix(word, "name")) {
      if (next.empty() || next.size() > 15) refuse(subject, "create", "name takes 1 to 15 characters");
      r.spec.name = next;
    } else if (is_prefix(word, "key")) {
      number(at + 1, "key size", r.spec.key_size);
    } else if (is_prefix(word, "value")) {
      number(at + 1, "value size", r.spec.value_size);
    } else if (is_prefix(word, "entries")) {
      number(at + 1, "max entries", r.spec.max_entries);
    } else if (is_prefix(word, "flags")) {
      number(at + 1, "flags", r.spec.map_flags);
    } else if (is_prefix(word, "inner_map")) {
      r.inner.emplace(open_inner_map(o, words, at + 1));
      r.spec.inner_map_fd = r.inner->fd();
      ++at;  // MAP is two words
    } else {
      refuse(subject, "create", joined({"unknown arg ", escaped(word)}));
    }
  }
  if (r.spec.name.empty()) refuse(subject, "create", "map name not specified");
  if (!r.has_type) refuse(subject, "create", "map type not specified");
  return r;
}

int run_create(const arguments& o) {
  if (o.operands.empty()) {
    print_error("create needs FILE type TYPE key N value N entries N name NAME [flags F] [inner_map MAP]");
    std::exit(exit_usage);
  }
  const create_request r = read_create_words(o);
  const std::string subject = create_subject(r.file);
  auto made = map::create(r.spec);
  if (!made) fail(subject, made.error(), nullptr, command::map_create);
  pin_or_fail(subject, *made, r.file);
  return done_quietly(o);
}

}  // namespace

int run_element_verb(const arguments& o) {
  const std::string_view verb = o.command;
  if (verb == "lookup" || verb == "peek") return run_lookup(o);
  if (verb == "update" || verb == "push" || verb == "enqueue") return run_update(o);
  if (verb == "delete") return run_delete(o);
  if (verb == "getnext") return run_getnext(o);
  if (verb == "pop" || verb == "dequeue") return run_pop(o);
  if (verb == "pin") return run_pin(o);
  if (verb == "freeze") return run_freeze(o);
  return run_create(o);
}

}  // namespace bpfbatch::cli
