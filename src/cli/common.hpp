// What the tool's commands share: opening the map a selector names, and
// saying what went wrong in words that name the cause.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include <bpfbatch/command.hpp>
#include <bpfbatch/map.hpp>
#include <bpfbatch/map_info.hpp>

#include "arguments.hpp"
#include "output.hpp"

namespace bpfbatch::cli {

inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;

// "bpfbatch: " + text + newline on stderr; after report_errors_in_json(),
// also bpftool's {"error":"text"} on stdout, where nothing was written yet
// (a script reads stdout; a document already begun is left as it is).
void print_error(std::string_view text);
void report_errors_in_json(bool indented);

// The standard output for a command's result: JSON indented as bpftool -p
// prints it where the user asked for -p.
void set_up_stdout(output& out, const arguments& o);

// What a runtime error is about, for its message: the map's selector as the
// user wrote it ("pinned /sys/fs/bpf/x", control characters escaped), or a
// command's name ("list").
std::string subject_of(const arguments& o);

// One line for an error: "SUBJECT: COMMAND: CAUSE", the cause in words a
// user can act on (which privilege is missing, a frozen map, a type that
// cannot do it).
std::string describe(std::string_view subject, std::error_code error, const map_info* info, command failed);

// Prints describe(...) and exits with status 1.
[[noreturn]] void fail(std::string_view subject, std::error_code error, const map_info* info = nullptr,
                       command failed = command::none);

// Opens the map the selector names (parse_arguments made sure there is
// one), with the rights asked for; on failure prints why and exits.
map open_selected(const arguments& o, access rights);
// The same for any map selector (copy's destination).
map open_map(const selector& which, access rights);
std::string subject_of(const selector& which);

// Flushes stdout at the end of a command: 0, or status 1 with a message
// when it cannot be written. A reader that went away (| head) ends the tool
// quietly with status 0, as it does cat.
int finish(output& out, std::string_view subject);

// The array types: every index below max_entries always holds an element.
bool is_array(map_type type) noexcept;

// Map types whose values are descriptors on update (a lookup gives an id or
// a cookie): a drain could not put back what it deleted, and a dump cannot
// be loaded back. Maps of maps (is_map_in_map) are the same for load, but
// a drain puts an inner map back while it exists.
bool values_are_descriptors(map_type type) noexcept;

// "1 entry", "2 entries": counts in messages.
std::string entries_text(std::uint64_t n);

// Local storages (socket, inode, task, cgroup) whose key is a descriptor of
// the calling process, whose object holds the value: a key read elsewhere
// names some other file of this process.
bool keys_are_descriptors(map_type type) noexcept;

// Whether the process holds a capability in its effective set.
bool has_capability(int capability) noexcept;

}  // namespace bpfbatch::cli
