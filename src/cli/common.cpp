#include "common.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <bpfbatch/error.hpp>
#include <bpfbatch/possible_cpus.hpp>

#include "output.hpp"

namespace bpfbatch::cli {

namespace {

std::string lowercase_first(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}

// The commands that need CAP_SYS_ADMIN whatever the kernel (map_get_fd_by_id,
// bpf_obj_get_next_id).
bool needs_sys_admin(command c) noexcept {
  return c == command::map_get_fd_by_id || c == command::map_get_next_id;
}

bool writes(command c) noexcept {
  return c == command::map_lookup_and_delete_batch || c == command::map_lookup_and_delete_elem ||
         c == command::map_update_batch || c == command::map_update_elem || c == command::map_delete_batch ||
         c == command::map_delete_elem;
}

std::string explain_permission(command failed) {
  if (needs_sys_admin(failed))
    return has_capability(CAP_SYS_ADMIN) ? "operation not permitted"
                                         : "permission denied (needs CAP_SYS_ADMIN)";
  // Kernels before 6.5 with unprivileged BPF disabled want CAP_BPF (or
  // CAP_SYS_ADMIN) for every command; with it, EPERM is the map's answer.
  if (!has_capability(CAP_BPF) && !has_capability(CAP_SYS_ADMIN))
    return "permission denied (needs CAP_BPF or CAP_SYS_ADMIN)";
  if (writes(failed))
    return "operation not permitted: the map is frozen, read-only for user space, or opened read-only";
  return "operation not permitted";
}

}  // namespace

bool has_capability(int capability) noexcept {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  const auto index = static_cast<unsigned>(capability) / 32;
  return index < _LINUX_CAPABILITY_U32S_3 && (data[index].effective & (1u << (capability % 32))) != 0;
}

namespace {

enum class json_errors { none, compact, indented };
json_errors errors_in_json = json_errors::none;

}  // namespace

void report_errors_in_json(bool indented) {
  errors_in_json = indented ? json_errors::indented : json_errors::compact;
}

void set_up_stdout(output& out, const arguments& o) {
  if (o.pretty) out.indent_json();
}

void print_error(std::string_view text) {
  {
    output err(2);
    err.put("bpfbatch: ").put(text).put('\n');
  }
  if (errors_in_json == json_errors::none || output::stdout_used()) return;
  output out(1);
  if (errors_in_json == json_errors::indented) out.indent_json();
  out.put("{\"error\":").json_string(text).put("}\n");
}

std::string subject_of(const arguments& o) {
  if (o.selector_kind.empty()) return std::string(o.command);
  return subject_of(selector{o.selector_kind, o.selector_value, o.id});
}

std::string subject_of(const selector& which) { return std::string(which.kind) + " " + escaped(which.value); }

std::string describe(std::string_view subject, std::error_code error, const map_info* info, command failed) {
  std::string text(subject);
  text += ": ";
  if (failed != command::none) {
    text += command_name(failed);
    text += ": ";
  }
  if (error.category() == possible_cpus_category())
    return text + "cannot count the possible CPUs: " + error.message();
  const bool pinned = subject.starts_with("pinned ");
  switch (error.value()) {
    case ENOENT:
      if (pinned && failed == command::none) return text + "no such file";
      if (subject.starts_with("id ") && failed == command::none) return text + "no such map";
      if (subject.starts_with("name ") && failed == command::none) return text + "no map has this name";
      break;
    case EPERM:
      return text + explain_permission(failed != command::none ? failed
                                       : subject.starts_with("id ") || subject.starts_with("name ")
                                           ? command::map_get_fd_by_id
                                           : command::obj_get);
    case EACCES:
      if (pinned) return text + "permission denied, or not a BPF object";
      break;
    case errno_not_supported:
      if (info != nullptr)
        return text + "operation not supported for map type " + std::string(map_type_name(info->type));
      break;
    case EINVAL:
      if (info == nullptr && failed == command::none) return text + "not a BPF map";
      break;
    case E2BIG:
      // What htab_map_update_elem (and the queue's push) answer when every
      // one of max_entries is taken, and array_map_update_elem for an index
      // past max_entries: an array is never full.
      if (info == nullptr || (failed != command::map_update_batch && failed != command::map_update_elem))
        break;
      if (is_array(info->type))
        return text + "a key is past the array's end (max_entries " + std::to_string(info->max_entries) + ")";
      return text + "the map is full (" + std::to_string(info->max_entries) + " entries)";
    default:
      break;
  }
  return text + lowercase_first(error.message());
}

void fail(std::string_view subject, std::error_code error, const map_info* info, command failed) {
  print_error(describe(subject, error, info, failed));
  std::exit(exit_failure);
}

int finish(output& out, std::string_view subject) {
  const int err = out.flush();
  if (err == 0) return 0;
  if (err == EPIPE) ::_exit(0);
  print_error(std::string(subject) + ": cannot write output: " + std::strerror(err));
  return exit_failure;
}

map open_selected(const arguments& o, access rights) {
  return open_map({o.selector_kind, o.selector_value, o.id}, rights);
}

map open_map(const selector& which, access rights) {
  const std::string subject = subject_of(which);
  if (which.kind == "id") {
    auto m = map::open_id(which.id, {rights});
    if (!m) fail(subject, m.error());
    return std::move(*m);
  }
  if (which.kind == "pinned") {
    const std::string path(which.value);
    auto m = map::open_pinned(path.c_str(), {rights});
    if (!m) fail(subject, m.error());
    return std::move(*m);
  }
  // name: every map whose name matches; more than one is an error that lists
  // them. Looking maps up by id needs CAP_SYS_ADMIN.
  std::vector<map> matches;
  auto id = next_map_id(0);
  for (; id; id = next_map_id(*id)) {
    auto m = map::open_id(*id, {rights});
    if (!m) {
      if (m.error() == make_error(ENOENT)) continue;  // gone since its id was listed
      fail(subject, m.error(), nullptr, command::map_get_fd_by_id);
    }
    if (m->info().name() == which.value) matches.push_back(std::move(*m));
  }
  if (id.error().value() != ENOENT) fail(subject, id.error(), nullptr, command::map_get_next_id);
  if (matches.empty()) fail(subject, make_error(ENOENT), nullptr, command::none);
  if (matches.size() > 1) {
    std::string text = subject + ": " + std::to_string(matches.size()) + " maps have this name:";
    for (const map& m : matches) text += " id " + std::to_string(m.info().id);
    text += "; select one with id N";
    print_error(text);
    std::exit(exit_failure);
  }
  return std::move(matches.front());
}

bool is_array(map_type type) noexcept {
  return type == map_type::array || type == map_type::percpu_array || type == map_type::prog_array ||
         type == map_type::perf_event_array || type == map_type::cgroup_array ||
         type == map_type::array_of_maps;
}

std::string entries_text(std::uint64_t n) { return std::to_string(n) + (n == 1 ? " entry" : " entries"); }

bool values_are_descriptors(map_type type) noexcept {
  switch (type) {
    case map_type::prog_array:
    case map_type::perf_event_array:
    case map_type::cgroup_array:
    case map_type::sockmap:
    case map_type::sockhash:
    case map_type::xskmap:
    case map_type::reuseport_sockarray:
      return true;
    default:
      return false;
  }
}

bool keys_are_descriptors(map_type type) noexcept {
  switch (type) {
    case map_type::sk_storage:
    case map_type::inode_storage:
    case map_type::task_storage:
    case map_type::cgrp_storage:
      return true;
    default:
      return false;
  }
}

}  // namespace bpfbatch::cli
