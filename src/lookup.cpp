#include <bpfbatch/lookup.hpp>

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <bpfbatch/error.hpp>

#include "syscall.hpp"

namespace bpfbatch {

namespace {

// EINTR and EBUSY are passing: EBUSY when a hash bucket's lock is held by a
// BPF program on this CPU (htab_lock_bucket, 5.10 on), EINTR from older
// generic_map_lookup_batch() after a key vanished three times. Retry a few
// times, then report: a bucket that stays busy must not hang the caller.
constexpr int max_busy_retries = 16;

bool is_passing(int err) noexcept { return err == EINTR || err == EBUSY; }

void wait_before_retry(int err) noexcept {
  if (err == EBUSY) ::sched_yield();
}

// The kernel computes buffer offsets as u32 (cp * value_size in
// generic_map_lookup_batch, total * key_size in the hash path), so a batch
// whose keys or values pass 4 GiB would wrap around inside our buffer.
std::uint32_t max_batch_elements(const map_info& info) noexcept {
  std::uint64_t limit = UINT32_MAX;
  if (info.key_size > 0) limit = std::min<std::uint64_t>(limit, UINT32_MAX / info.key_size);
  if (info.value_bytes() > 0) limit = std::min<std::uint64_t>(limit, UINT32_MAX / info.value_bytes());
  return static_cast<std::uint32_t>(limit);
}

// EINVAL from a batch command means "unknown command" on a kernel before 5.6,
// but also a real EINVAL (BPF_F_LOCK on a map without a spin lock). A call
// with count = 0 and no flags tells them apart: it returns 0 before touching
// anything wherever the command exists.
bool kernel_lacks_batch_commands(int fd, command c) noexcept {
  std::uint32_t count = 0;
  return sys::map_batch(c, fd, nullptr, nullptr, nullptr, nullptr, count, 0) == EINVAL;
}

batch_generator run_lookup(int fd, map_info info, batch_options options, batch_buffers* caller_buffers) {
  batch_buffers own_buffers;
  batch_buffers& buffers = caller_buffers != nullptr ? *caller_buffers : own_buffers;
  iteration_stats ignored;
  iteration_stats& stats = options.stats != nullptr ? *options.stats : ignored;

  const std::uint32_t requested = options.batch_size != 0 ? options.batch_size : default_batch_size(info);
  if (requested > max_batch_elements(info)) co_return stop_reason{make_error(EOVERFLOW), command::none};
  auto reserved = buffers.reserve(info, requested);
  if (!reserved) co_return stop_reason{reserved.error(), command::none};
  // Borrowed buffers too small for one element (or for the token).
  if (*reserved == 0) co_return stop_reason{make_error(ENOBUFS), command::none};
  const std::uint32_t capacity = *reserved;

  if (options.method != iteration::key_walk) {
    bool have_token = false;
    int retries = 0;
    std::uint32_t call_size = capacity;
    while (true) {
      std::uint32_t count = call_size;
      std::byte* token = buffers.token().data();
      // One buffer is both in_batch and out_batch: the kernel reads in_batch
      // before it writes out_batch. in_batch is NULL only on the first call:
      // a zeroed token is not "the start" (on an array it skips element 0).
      int err = sys::map_batch(command::map_lookup_batch, fd, have_token ? token : nullptr, token,
                               buffers.keys().data(), buffers.values().data(), count, options.elem_flags);
      ++stats.syscalls;

      if (err == 0 || err == ENOENT) {
        retries = 0;
        call_size = capacity;
        // ENOENT marks the end, and the same call may carry the last elements
        // (the hash path copies what it found before running out of buckets,
        // the generic path what it found before get_next_key said ENOENT).
        // A return of 0 with fewer elements than asked is not the end: the
        // hash path stops before a bucket that would not fit.
        if (count > 0) {
          // The generic path writes out_batch only after copying an element.
          have_token = true;
          ++stats.batches;
          stats.elements += count;
          const batch current(info, buffers.keys(), buffers.values(), count);
          co_yield current;
        }
        if (err == ENOENT) co_return stop_reason{};
        continue;
      }

      if (err == ENOSPC) {
        // The next hash bucket holds more elements than call_size: nothing was
        // copied, count is 0, and out_batch holds that bucket's index. Retry
        // from there with a larger batch, then go back to the requested size.
        have_token = true;
        const std::uint32_t limit = std::min(max_batch_elements(info), std::max(info.max_entries, 1u));
        const std::uint32_t wanted = call_size > limit / 2 ? limit : call_size * 2;
        auto grown = wanted > call_size ? buffers.reserve(info, wanted) : result<std::uint32_t>(call_size);
        if (!grown) co_return stop_reason{grown.error(), command::map_lookup_batch};
        if (*grown <= call_size) co_return stop_reason{make_error(ENOSPC), command::map_lookup_batch};
        call_size = *grown;
        ++stats.no_space_retries;
        continue;
      }

      if (is_passing(err) && retries < max_busy_retries) {
        ++retries;
        ++stats.busy_retries;
        wait_before_retry(err);
        continue;
      }

      // No batch lookup here: the map type lacks it (524), or the kernel
      // predates batch commands (EINVAL). Only before anything was read.
      const bool unsupported = err == errno_not_supported ||
                               (err == EINVAL && kernel_lacks_batch_commands(fd, command::map_lookup_batch));
      if (options.method == iteration::automatic && unsupported && !have_token) break;
      co_return stop_reason{make_error(err), command::map_lookup_batch};
    }
  }

  // The walk: GET_NEXT_KEY from the previous key, LOOKUP_ELEM of each, into
  // the same buffers and in batches of the same size.
  stats.walked = true;
  const std::size_t key_size = info.key_size;
  const std::size_t value_bytes = info.value_bytes();
  const std::byte* previous = nullptr;  // NULL asks for the first key
  while (true) {
    std::uint32_t count = 0;
    bool at_end = false;
    while (count < capacity) {
      std::byte* key = buffers.keys().data() + count * key_size;
      int err = 0;
      for (int retries = 0;; ++retries) {
        err = sys::map_get_next_key(fd, previous, key);
        ++stats.syscalls;
        if (!is_passing(err) || retries == max_busy_retries) break;
        ++stats.busy_retries;
        wait_before_retry(err);
      }
      if (err == ENOENT) {
        at_end = true;
        break;
      }
      if (err != 0) co_return stop_reason{make_error(err), command::map_get_next_key};
      // The next key follows this one even if it is deleted before the lookup.
      previous = key;
      for (int retries = 0;; ++retries) {
        err =
            sys::map_lookup_elem(fd, key, buffers.values().data() + count * value_bytes, options.elem_flags);
        ++stats.syscalls;
        if (!is_passing(err) || retries == max_busy_retries) break;
        ++stats.busy_retries;
        wait_before_retry(err);
      }
      // Deleted between GET_NEXT_KEY and LOOKUP_ELEM: not an element any more.
      if (err == ENOENT) continue;
      if (err != 0) co_return stop_reason{make_error(err), command::map_lookup_elem};
      ++count;
    }
    if (count > 0) {
      // The next batch overwrites the key slots: keep the last key apart.
      std::memcpy(buffers.token().data(), previous, key_size);
      previous = buffers.token().data();
      ++stats.batches;
      stats.elements += count;
      const batch current(info, buffers.keys(), buffers.values(), count);
      co_yield current;
    }
    if (at_end) co_return stop_reason{};
  }
}

}  // namespace

batch_generator lookup_batches(const map& m, batch_options options) {
  return run_lookup(m.fd(), m.info(), options, nullptr);
}

batch_generator lookup_batches(const map& m, batch_buffers& buffers, batch_options options) {
  return run_lookup(m.fd(), m.info(), options, &buffers);
}

result<bool> supports_batch(const map& m, command c) noexcept {
  switch (c) {
    case command::map_lookup_batch:
    case command::map_lookup_and_delete_batch:
    case command::map_update_batch:
    case command::map_delete_batch:
      break;
    default:
      return make_error(EINVAL);
  }
  std::uint32_t count = 0;
  int err = sys::map_batch(c, m.fd(), nullptr, nullptr, nullptr, nullptr, count, 0);
  if (err == 0) return true;
  if (err == errno_not_supported || err == EINVAL) return false;
  return make_error(err);
}

}  // namespace bpfbatch
