// update_batch() and delete_batch().
#include <linux/bpf.h>

#include <algorithm>
#include <cerrno>

#include <bpfbatch/error.hpp>
#include <bpfbatch/write.hpp>

#include "kernel_rules.hpp"
#include "syscall.hpp"

namespace bpfbatch {

namespace {

using detail::with_retries;

std::uint64_t mode_flags(update_mode mode) noexcept {
  switch (mode) {
    case update_mode::only_new:
      return BPF_NOEXIST;
    case update_mode::only_existing:
      return BPF_EXIST;
    case update_mode::any:
      break;
  }
  return BPF_ANY;
}

write_result failed(std::size_t applied, std::size_t missing, int err, command c) noexcept {
  return {applied, missing, make_error(err), c};
}

// One pass over `elements` keys (and values) through a batch command, in
// calls of at most `chunk` elements. The kernel stops at the first element
// that fails and writes in count how many it applied before it
// (generic_map_update_batch / generic_map_delete_batch); such a count is
// always below what was asked. Early errors (EPERM, EINVAL, 524) and injected
// ones leave count as we set it, so a count equal to the request after an
// error means nothing was applied.
struct batch_pass {
  command batch_command;
  int fd;
  const std::byte* keys;
  const std::byte* values;  // null for deletes
  std::size_t key_size;
  std::size_t value_bytes;
  std::uint64_t elem_flags;
  std::uint32_t chunk;

  // Applies elements [position, end); returns 0 or the error, with position
  // advanced past every element applied.
  int run(std::size_t& position, std::size_t end) const noexcept {
    int retries = 0;
    while (position < end) {
      const auto asked = static_cast<std::uint32_t>(std::min<std::size_t>(chunk, end - position));
      std::uint32_t count = asked;
      int err = sys::map_batch(
          batch_command, fd, nullptr, nullptr, const_cast<std::byte*>(keys + position * key_size),
          values != nullptr ? const_cast<std::byte*>(values + position * value_bytes) : nullptr, count,
          elem_flags);
      const std::uint32_t applied = err == 0 ? asked : (count < asked ? count : 0);
      position += applied;
      if (err == 0) continue;
      if (applied > 0) retries = 0;
      if (detail::is_passing(err) && retries < detail::max_busy_retries) {
        ++retries;
        detail::wait_before_retry(err);
        continue;
      }
      return err;
    }
    return 0;
  }
};

// Validates sizes and returns the element count, or an error. Key-less maps
// (queue, stack, bloom filter) take no keys: the count is that of the values.
result<std::size_t> element_count(const map_info& info, std::span<const std::byte> keys,
                                  const std::span<const std::byte>* values) noexcept {
  const std::uint64_t value_bytes = info.value_bytes();
  if (info.key_size == 0) {
    if (!keys.empty() || values == nullptr || value_bytes == 0 || values->size() % value_bytes != 0)
      return make_error(EINVAL);
    return static_cast<std::size_t>(values->size() / value_bytes);
  }
  if (keys.size() % info.key_size != 0) return make_error(EINVAL);
  const std::size_t n = keys.size() / info.key_size;
  std::uint64_t needed = 0;
  if (values != nullptr &&
      (__builtin_mul_overflow(std::uint64_t{n}, value_bytes, &needed) || values->size() != needed))
    return make_error(EINVAL);
  return n;
}

std::uint32_t chunk_size(const map_info& info, std::uint32_t batch_size) noexcept {
  const std::uint32_t wanted = batch_size != 0 ? batch_size : default_batch_size(info);
  return std::min(wanted, detail::max_batch_elements(info));
}

}  // namespace

write_result update_batch(const map& m, std::span<const std::byte> keys, std::span<const std::byte> values,
                          update_options options) noexcept {
  const map_info& info = m.info();
  auto n = element_count(info, keys, &values);
  if (!n) return {0, 0, n.error(), command::none};
  const auto value_bytes = static_cast<std::size_t>(info.value_bytes());
  const bool keyless = info.key_size == 0;
  // The update batch takes no BPF_NOEXIST / BPF_EXIST (EINVAL: its
  // elem_flags allow only BPF_F_LOCK), and key-less maps have no update
  // batch (524) and push only with BPF_ANY here (a queue's BPF_EXIST would
  // drop its oldest element; a bloom filter takes nothing else).
  const bool by_element =
      options.mode != update_mode::any || options.method == iteration::key_walk || keyless;
  if (keyless && options.mode != update_mode::any) return failed(0, 0, EINVAL, command::none);
  // iteration::batch promises batch commands: no element-by-element detour.
  if (by_element && options.method == iteration::batch)
    return failed(0, 0, keyless ? errno_not_supported : EINVAL, command::none);
  std::size_t position = 0;
  if (!by_element) {
    const batch_pass pass{command::map_update_batch,
                          m.fd(),
                          keys.data(),
                          values.data(),
                          info.key_size,
                          value_bytes,
                          options.elem_flags,
                          chunk_size(info, options.batch_size)};
    int err = pass.run(position, *n);
    if (err == 0) return {position, 0, {}, command::none};
    const bool fall_back = options.method == iteration::automatic && position == 0 &&
                           detail::batch_unsupported(err, m.fd(), command::map_update_batch);
    if (!fall_back) return failed(position, 0, err, command::map_update_batch);
  }

  const std::uint64_t flags = mode_flags(options.mode) | options.elem_flags;
  for (; position < *n; ++position) {
    // A key-less map takes a NULL key: any other pointer is EINVAL (___bpf_copy_key).
    const std::byte* key = keyless ? nullptr : keys.data() + position * info.key_size;
    int err = with_retries(
        [&] { return sys::map_update_elem(m.fd(), key, values.data() + position * value_bytes, flags); },
        nullptr);
    if (err != 0) return failed(position, 0, err, command::map_update_elem);
  }
  return {position, 0, {}, command::none};
}

write_result delete_batch(const map& m, std::span<const std::byte> keys, delete_options options) noexcept {
  const map_info& info = m.info();
  auto n = element_count(info, keys, nullptr);
  if (!n) return {0, 0, n.error(), command::none};
  // A plain array's elements always exist (DELETE_ELEM gives EINVAL, the
  // batch 524), a struct_ops delete unregisters without removing: say so
  // once, clearly, before any call. Key-less maps have no keys to delete.
  if (info.key_size == 0) return failed(0, 0, EINVAL, command::none);
  if (!detail::deletes_remove_elements(info.type)) return failed(0, 0, errno_not_supported, command::none);

  std::size_t position = 0;  // keys handled: deleted or found missing
  std::size_t missing = 0;
  if (options.method != iteration::key_walk) {
    const batch_pass pass{command::map_delete_batch,
                          m.fd(),
                          keys.data(),
                          nullptr,
                          info.key_size,
                          0,
                          options.elem_flags,
                          chunk_size(info, options.batch_size)};
    while (true) {
      int err = pass.run(position, *n);
      if (err == 0) return {position - missing, missing, {}, command::none};
      // The kernel stopped at keys[position], which is not in the map.
      if (err == ENOENT && options.skip_missing) {
        ++missing;
        ++position;
        continue;
      }
      const bool fall_back = options.method == iteration::automatic && position == 0 &&
                             detail::batch_unsupported(err, m.fd(), command::map_delete_batch);
      if (fall_back) break;
      return failed(position - missing, missing, err, command::map_delete_batch);
    }
  }

  for (; position < *n; ++position) {
    // DELETE_ELEM has no flags (its last field is key): BPF_F_LOCK, which the
    // batch accepts, is not passed on.
    int err = with_retries(
        [&] { return sys::map_delete_elem(m.fd(), keys.data() + position * info.key_size); }, nullptr);
    if (err == ENOENT && options.skip_missing) {
      ++missing;
      continue;
    }
    if (err != 0) return failed(position - missing, missing, err, command::map_delete_elem);
  }
  return {position - missing, missing, {}, command::none};
}

}  // namespace bpfbatch
