// Internal: rules about the kernel that the iteration and write paths share.
#pragma once

#include <sched.h>

#include <cerrno>
#include <cstdint>

#include <bpfbatch/error.hpp>
#include <bpfbatch/iteration_stats.hpp>
#include <bpfbatch/map_info.hpp>

#include "sizes.hpp"
#include "syscall.hpp"

namespace bpfbatch::detail {

// Passing errors, retried a few times and then reported, so that a bucket
// that stays busy cannot hang the caller:
// - EBUSY: a hash bucket's lock held by a BPF program on this CPU
//   (htab_lock_bucket, 5.10 to 6.14); a queue or stack's lock.
// - EDEADLK, ETIMEDOUT: the same contention since the bucket locks became
//   resilient spin locks (6.15: raw_res_spin_lock_irqsave fails with
//   EDEADLK on an AA/ABBA deadlock, ETIMEDOUT after a quarter second).
//   __htab_map_lookup_and_delete_batch returns them after copying (and, for
//   a drain, deleting) the buckets before, with count and out_batch written.
// - EINTR: older generic_map_lookup_batch() after a key vanished three times.
inline constexpr int max_busy_retries = 16;

inline bool is_passing(int err) noexcept {
  return err == EINTR || err == EBUSY || err == EDEADLK || err == ETIMEDOUT;
}

inline void wait_before_retry(int err) noexcept {
  if (err != EINTR) ::sched_yield();
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

// A batch command with count = 0 and no flags: it returns 0 before touching
// anything wherever the command exists (every *_batch handler checks its
// flags, then returns at once for a zero count), 524 where the map type lacks
// it, EINVAL on a kernel before 5.6, and EPERM when the descriptor's rights
// forbid it (bpf_map_do_batch checks them before the map type's handler).
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

// Maps without keys: a lookup peeks, an update pushes.
inline bool is_keyless(map_type type) noexcept {
  switch (type) {
    case map_type::queue:
    case map_type::stack:
    case map_type::bloom_filter:
    case map_type::ringbuf:
    case map_type::user_ringbuf:
    case map_type::arena:
      return true;
    default:
      return false;
  }
}

// Whether GET_NEXT_KEY (or a batch lookup) can list this map's elements:
// not key-less maps, and not the local storages, whose keys are descriptors
// (their get_next_key answers 524).
inline bool can_be_listed(map_type type) noexcept {
  switch (type) {
    case map_type::sk_storage:
    case map_type::inode_storage:
    case map_type::task_storage:
    case map_type::cgrp_storage:
      return false;
    default:
      return !is_keyless(type);
  }
}

// Whether DELETE_ELEM on a key removes that element. Not for plain arrays
// (every element always exists: DELETE_ELEM is EINVAL), struct_ops (a delete
// unregisters the struct_ops but the element stays,
// bpf_struct_ops_map_delete_elem), cgroup storage (cgroup_storage_delete_elem:
// EINVAL), nor maps without keys.
inline bool deletes_remove_elements(map_type type) noexcept {
  switch (type) {
    case map_type::array:
    case map_type::percpu_array:
    case map_type::struct_ops:
    case map_type::cgroup_storage:
    case map_type::percpu_cgroup_storage:
      return false;
    default:
      return !is_keyless(type);
  }
}

// The types whose batch commands are __htab_map_lookup_and_delete_batch,
// resuming from a bucket index.
inline bool is_hash_family(map_type type) noexcept {
  return type == map_type::hash || type == map_type::percpu_hash || type == map_type::lru_hash ||
         type == map_type::lru_percpu_hash || type == map_type::hash_of_maps;
}

inline bool is_queue_or_stack(map_type type) noexcept {
  return type == map_type::queue || type == map_type::stack;
}

// Whether a drain can remove this map's elements: queues and stacks pop;
// keyed maps need a delete that removes the element, and keys to list.
inline bool can_be_drained(map_type type) noexcept {
  return is_queue_or_stack(type) || (deletes_remove_elements(type) && can_be_listed(type));
}

}  // namespace bpfbatch::detail
