// Internal: rules about the kernel that the iteration and write paths share.
#pragma once

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include <bpfbatch/batch.hpp>
#include <bpfbatch/error.hpp>
#include <bpfbatch/map_info.hpp>

#include "syscall.hpp"

namespace bpfbatch::detail {

// EINTR and EBUSY are passing: EBUSY when a hash bucket's lock is held by a
// BPF program on this CPU (htab_lock_bucket, 5.10 on), EINTR from older
// generic_map_lookup_batch() after a key vanished three times. Retry a few
// times, then report: a bucket that stays busy must not hang the caller.
inline constexpr int max_busy_retries = 16;

inline bool is_passing(int err) noexcept { return err == EINTR || err == EBUSY; }

inline void wait_before_retry(int err) noexcept {
  if (err == EBUSY) ::sched_yield();
}

// Runs one element command, retrying passing errors a bounded number of times.
template <class Call>
int with_retries(Call call, iteration_stats* stats) noexcept {
  for (int retries = 0;; ++retries) {
    int err = call();
    if (stats != nullptr) ++stats->syscalls;
    if (!is_passing(err) || retries == max_busy_retries) return err;
    if (stats != nullptr) ++stats->busy_retries;
    wait_before_retry(err);
  }
}

// The kernel computes buffer offsets as u32 (cp * value_size in
// generic_map_lookup_batch, total * key_size in the hash path), so a call
// whose keys or values pass 4 GiB would wrap around inside our buffer.
inline std::uint32_t max_batch_elements(const map_info& info) noexcept {
  std::uint64_t limit = UINT32_MAX;
  if (info.key_size > 0) limit = std::min<std::uint64_t>(limit, UINT32_MAX / info.key_size);
  if (info.value_bytes() > 0) limit = std::min<std::uint64_t>(limit, UINT32_MAX / info.value_bytes());
  return static_cast<std::uint32_t>(limit);
}

// A batch command with count = 0 and no flags: it returns 0 before touching
// anything wherever the command exists (every *_batch handler checks its
// flags, then returns at once for a zero count), 524 where the map type lacks
// it, EINVAL on a kernel before 5.6, and EPERM when the descriptor's rights
// forbid it (bpf_map_do_batch checks them first).
inline int probe_batch_command(int fd, command c) noexcept {
  std::uint32_t count = 0;
  return sys::map_batch(c, fd, nullptr, nullptr, nullptr, nullptr, count, 0);
}

// EINVAL from a batch command means "unknown command" on a kernel before 5.6,
// but also a real EINVAL (BPF_F_LOCK on a map without a spin lock); the probe
// tells them apart.
inline bool kernel_lacks_batch_command(int fd, command c) noexcept {
  return probe_batch_command(fd, c) == EINVAL;
}

// Whether err from a batch command means "no such batch command here": the
// map type lacks it (524) or the kernel predates batch commands.
inline bool batch_unsupported(int err, int fd, command c) noexcept {
  return err == errno_not_supported || (err == EINVAL && kernel_lacks_batch_command(fd, c));
}

// Plain arrays preallocate every element: DELETE_ELEM answers EINVAL and the
// delete batches 524. (Maps of maps and fd arrays can clear a slot.)
inline bool elements_can_be_deleted(map_type type) noexcept {
  return type != map_type::array && type != map_type::percpu_array;
}

}  // namespace bpfbatch::detail
