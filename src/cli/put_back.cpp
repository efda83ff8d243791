#include "put_back.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <bpfbatch/error.hpp>
#include <bpfbatch/write.hpp>

namespace bpfbatch::cli {

namespace {

// A map of maps takes the inner map's descriptor; the drain gave its id.
write_result put_back_inner_map(const map& m, std::span<const std::byte> key,
                                std::span<const std::byte> value) {
  std::uint32_t id = 0;
  std::memcpy(&id, value.data(), sizeof(id));
  auto inner = map::open_id(id, {access::read_only});
  if (!inner) return {0, 0, inner.error(), command::map_get_fd_by_id};
  const int fd = inner->fd();
  return update_batch(m, key, std::as_bytes(std::span(&fd, 1)), {.mode = update_mode::only_new});
}

}  // namespace

void put_back(const map& m, std::span<const std::byte> key, std::span<const std::byte> value,
              put_back_counts& counts) noexcept {
  const map_info& info = m.info();
  write_result written;
  if (is_map_in_map(info.type)) {
    written = put_back_inner_map(m, key, value);
  } else if (info.key_size == 0) {
    written = update_batch(m, std::span<const std::byte>(), value);
  } else {
    written = update_batch(m, key, value, {.mode = update_mode::only_new});
  }
  if (written) {
    ++counts.restored;
  } else if (written.error == make_error(EEXIST)) {
    ++counts.superseded;
  } else {
    if (counts.lost == 0) {
      counts.lost_because = written.error;
      counts.lost_command = written.failed_command;
    }
    ++counts.lost;
  }
}

void put_back(const map& m, const batch& b, std::size_t from, put_back_counts& counts) noexcept {
  // A stack gave its top first: pushed back last to first, the values lie
  // in the order they were popped from.
  if (m.info().type == map_type::stack) {
    for (std::size_t i = b.size(); i > from; --i) put_back(m, b.key(i - 1), b.value(i - 1), counts);
    return;
  }
  for (std::size_t i = from; i < b.size(); ++i) put_back(m, b.key(i), b.value(i), counts);
}

}  // namespace bpfbatch::cli
