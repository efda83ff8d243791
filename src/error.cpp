#include <bpfbatch/error.hpp>

#include <string>

#include <bpfbatch/map_info.hpp>

namespace bpfbatch {

namespace {

class bpf_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "bpf"; }

  std::string message(int value) const override {
    if (value == errno_not_supported) return "operation not supported for this map type";
    return std::generic_category().message(value);
  }

  std::error_condition default_error_condition(int value) const noexcept override {
    if (value == errno_not_supported) return std::errc::not_supported;
    return {value, std::generic_category()};
  }
};

}  // namespace

const std::error_category& bpf_category() noexcept {
  static const bpf_error_category category;
  return category;
}

std::error_code make_error(int errno_value) noexcept {
  return errno_value == 0 ? std::error_code() : std::error_code(errno_value, bpf_category());
}

std::string_view command_name(command c) noexcept {
  switch (c) {
    case command::none:
      return "none";
    case command::map_create:
      return "BPF_MAP_CREATE";
    case command::map_lookup_elem:
      return "BPF_MAP_LOOKUP_ELEM";
    case command::map_update_elem:
      return "BPF_MAP_UPDATE_ELEM";
    case command::map_delete_elem:
      return "BPF_MAP_DELETE_ELEM";
    case command::map_get_next_key:
      return "BPF_MAP_GET_NEXT_KEY";
    case command::obj_get:
      return "BPF_OBJ_GET";
    case command::map_get_next_id:
      return "BPF_MAP_GET_NEXT_ID";
    case command::map_get_fd_by_id:
      return "BPF_MAP_GET_FD_BY_ID";
    case command::obj_get_info_by_fd:
      return "BPF_OBJ_GET_INFO_BY_FD";
    case command::btf_load:
      return "BPF_BTF_LOAD";
    case command::btf_get_fd_by_id:
      return "BPF_BTF_GET_FD_BY_ID";
    case command::map_lookup_and_delete_elem:
      return "BPF_MAP_LOOKUP_AND_DELETE_ELEM";
    case command::map_freeze:
      return "BPF_MAP_FREEZE";
    case command::map_lookup_batch:
      return "BPF_MAP_LOOKUP_BATCH";
    case command::map_lookup_and_delete_batch:
      return "BPF_MAP_LOOKUP_AND_DELETE_BATCH";
    case command::map_update_batch:
      return "BPF_MAP_UPDATE_BATCH";
    case command::map_delete_batch:
      return "BPF_MAP_DELETE_BATCH";
  }
  return "unknown command";
}

std::string describe_error(const map_info& map, command failed, std::error_code error) {
  std::string text = "map '";
  text += map.name();
  text += "' (id ";
  text += std::to_string(map.id);
  text += ", ";
  text += map_type_name(map.type);
  text += ")";
  if (failed != command::none) {
    text += ": ";
    text += command_name(failed);
  }
  text += ": ";
  text += error.message();
  return text;
}

}  // namespace bpfbatch
