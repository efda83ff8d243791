// lookup_batches() and lookup_and_delete_batches(): one coroutine reads a map
// in batches, or walks it where batches are missing.
#include <cerrno>
#include <cstring>

#include <bpfbatch/drain.hpp>
#include <bpfbatch/error.hpp>
#include <bpfbatch/lookup.hpp>

#include "array_mapping.hpp"
#include "kernel_rules.hpp"
#include "syscall.hpp"

namespace bpfbatch {

namespace {

using detail::with_retries;

// The resume token: a u32 bucket index for the hash family
// (__htab_map_lookup_and_delete_batch), the last key for the generic path
// (generic_map_lookup_batch). Every token starts with 4 bytes that can never
// be 0xffffffff: a bucket index is below n_buckets, an array index below
// max_entries, an LPM trie's prefixlen at most 128 bits plus data. So a token
// buffer poisoned with 0xffffffff before a call shows whether the kernel
// wrote it, which it does exactly when it also wrote count (the hash path's
// after_loop, the generic path after copying an element). An error that
// stopped earlier, or one a seccomp filter injected, leaves count as we set
// it, and then count must not be believed.
constexpr std::uint32_t token_poison = 0xffffffff;

void poison(std::byte* token) noexcept { std::memcpy(token, &token_poison, sizeof(token_poison)); }

bool kernel_wrote(const std::byte* token) noexcept {
  std::uint32_t head;
  std::memcpy(&head, token, sizeof(head));
  return head != token_poison;
}

// Removes one element for a drain walk, its value copied to `value` first.
// BPF_MAP_LOOKUP_AND_DELETE_ELEM does both at once for hash maps since 5.14;
// elsewhere (an LPM trie, older kernels: 524 or EINVAL) it is a lookup and a
// delete, and an element deleted by someone else in between is not ours
// (ENOENT).
int remove_element(int fd, const std::byte* key, std::byte* value, std::uint64_t flags, bool& atomic_remove,
                   command& failed, iteration_stats* stats) noexcept {
  if (atomic_remove) {
    failed = command::map_lookup_and_delete_elem;
    int err = with_retries([&] { return sys::map_lookup_and_delete_elem(fd, key, value, flags); }, stats);
    if (err != errno_not_supported && err != EINVAL) return err;
    atomic_remove = false;
  }
  failed = command::map_lookup_elem;
  int err = with_retries([&] { return sys::map_lookup_elem(fd, key, value, flags); }, stats);
  if (err != 0) return err;
  failed = command::map_delete_elem;
  return with_retries([&] { return sys::map_delete_elem(fd, key, 0); }, stats);
}

bool is_queue_or_stack(map_type type) noexcept { return type == map_type::queue || type == map_type::stack; }

batch_generator run(command batch_command, int fd, map_info info, batch_options options,
                    batch_buffers* caller_buffers) {
  const bool drain = batch_command == command::map_lookup_and_delete_batch;
  batch_buffers own_buffers;
  batch_buffers& buffers = caller_buffers != nullptr ? *caller_buffers : own_buffers;
  iteration_stats ignored;
  iteration_stats& stats = options.stats != nullptr ? *options.stats : ignored;

  // A drain of a plain array could only read: its elements cannot be deleted.
  if (drain && !detail::elements_can_be_deleted(info.type))
    co_return stop_reason{make_error(errno_not_supported), batch_command};

  const std::uint32_t requested = options.batch_size != 0 ? options.batch_size : default_batch_size(info);
  if (requested > detail::max_batch_elements(info))
    co_return stop_reason{make_error(EOVERFLOW), command::none};
  auto reserved = buffers.reserve(info, requested);
  if (!reserved) co_return stop_reason{reserved.error(), command::none};
  // Borrowed buffers too small for one element (or for the tokens).
  if (*reserved == 0) co_return stop_reason{make_error(ENOBUFS), command::none};
  const std::uint32_t capacity = *reserved;
  const std::size_t key_size = info.key_size;
  const std::size_t value_bytes = info.value_bytes();
  const std::size_t token_size = buffers.token().size() / 2;

  // An array made with BPF_F_MMAPABLE: its values are read from a read-only
  // mapping, in batches of the same size, with no bpf(2) call. Only plain
  // lookups (BPF_F_LOCK needs a spin lock, which bpf_map_mmap refuses).
  // Where mmap refuses, the batch commands below give the kernel's answer
  // (a write-only descriptor: EPERM).
  if (options.method == iteration::automatic && options.elem_flags == 0) {
    const auto mapping = detail::array_mapping::open(fd, info);
    if (mapping) {
      stats.memory_mapped = true;
      std::uint32_t first = 0;
      while (first < info.max_entries) {
        const std::uint32_t count = std::min(capacity, info.max_entries - first);
        mapping.copy(first, count, buffers.keys().data(), buffers.values().data());
        first += count;
        ++stats.batches;
        stats.elements += count;
        const batch current(info, buffers.keys(), buffers.values(), count);
        co_yield current;
      }
      co_return stop_reason{};
    }
  }

  if (options.method != iteration::key_walk) {
    // Two token buffers, swapped after each call that wrote one: in_batch is
    // the previous out_batch, and out_batch starts poisoned.
    std::byte* in_token = buffers.token().data();
    std::byte* out_token = in_token + token_size;
    bool have_token = false;
    int retries = 0;
    std::uint32_t call_size = capacity;
    while (true) {
      std::uint32_t count = call_size;
      poison(out_token);
      // in_batch is NULL only on the first call: a zeroed token is not "the
      // start" (on an array it skips element 0).
      int err = sys::map_batch(batch_command, fd, have_token ? in_token : nullptr, out_token,
                               buffers.keys().data(), buffers.values().data(), count, options.elem_flags);
      ++stats.syscalls;

      const bool wrote = kernel_wrote(out_token);
      if (wrote) {
        std::swap(in_token, out_token);
        have_token = true;
      }
      // Elements come with 0 and with every error that left through the
      // kernel's copy-out (ENOENT at the end, EBUSY, ENOMEM, EINTR): a drain
      // has already deleted them, so they are yielded before the error counts.
      const std::uint32_t copied = err == 0 || wrote ? count : 0;
      if (copied > call_size) co_return stop_reason{make_error(EPROTO), batch_command};
      if (copied > 0) {
        retries = 0;
        ++stats.batches;
        stats.elements += copied;
        const batch current(info, buffers.keys(), buffers.values(), copied);
        co_yield current;
      }

      // 0 with fewer elements than asked is not the end: the hash path stops
      // before a bucket that would not fit. Only ENOENT ends.
      if (err == 0) {
        call_size = capacity;
        continue;
      }
      if (err == ENOENT) co_return stop_reason{};

      if (err == ENOSPC && copied == 0) {
        // The next hash bucket holds more elements than call_size. Nothing was
        // copied or deleted, and out_batch holds that bucket's index. Retry
        // from there with a larger batch, then go back to the requested size.
        const std::uint32_t limit =
            std::min(detail::max_batch_elements(info), std::max(info.max_entries, 1u));
        const std::uint32_t wanted = call_size > limit / 2 ? limit : call_size * 2;
        auto grown = wanted > call_size ? buffers.reserve(info, wanted) : result<std::uint32_t>(call_size);
        if (!grown) co_return stop_reason{grown.error(), batch_command};
        if (*grown <= call_size) co_return stop_reason{make_error(ENOSPC), batch_command};
        // Growing owned buffers moves them; the tokens moved with them.
        const bool in_first = in_token < out_token;
        in_token = buffers.token().data() + (in_first ? 0 : token_size);
        out_token = buffers.token().data() + (in_first ? token_size : 0);
        call_size = *grown;
        ++stats.no_space_retries;
        continue;
      }

      if (detail::is_passing(err) && retries < detail::max_busy_retries) {
        ++retries;
        ++stats.busy_retries;
        detail::wait_before_retry(err);
        continue;
      }

      // No such batch command here: walk instead, if nothing was read yet.
      if (options.method == iteration::automatic && !have_token &&
          detail::batch_unsupported(err, fd, batch_command))
        break;
      co_return stop_reason{make_error(err), batch_command};
    }
  }

  stats.walked = true;
  std::byte* keys = buffers.keys().data();
  std::byte* values = buffers.values().data();
  std::byte* saved_key = buffers.token().data();  // the key the walk continues from

  if (!drain) {
    // GET_NEXT_KEY from the previous key, LOOKUP_ELEM of each, in batches of
    // the same size into the same buffers.
    const std::byte* previous = nullptr;  // NULL asks for the first key
    while (true) {
      std::uint32_t count = 0;
      bool at_end = false;
      while (count < capacity) {
        std::byte* key = keys + count * key_size;
        int err = with_retries([&] { return sys::map_get_next_key(fd, previous, key); }, &stats);
        if (err == ENOENT) {
          at_end = true;
          break;
        }
        if (err != 0) co_return stop_reason{make_error(err), command::map_get_next_key};
        // The next key follows this one even if it is deleted before the lookup.
        previous = key;
        err = with_retries(
            [&] { return sys::map_lookup_elem(fd, key, values + count * value_bytes, options.elem_flags); },
            &stats);
        // Deleted between GET_NEXT_KEY and LOOKUP_ELEM: not an element any more.
        if (err == ENOENT) continue;
        if (err != 0) co_return stop_reason{make_error(err), command::map_lookup_elem};
        ++count;
      }
      if (count > 0) {
        // The next batch overwrites the key slots: keep the last key apart.
        std::memcpy(saved_key, previous, key_size);
        previous = saved_key;
        ++stats.batches;
        stats.elements += count;
        const batch current(info, buffers.keys(), buffers.values(), count);
        co_yield current;
      }
      if (at_end) co_return stop_reason{};
    }
  }

  if (is_queue_or_stack(info.type)) {
    // A queue or stack has no keys: each BPF_MAP_LOOKUP_AND_DELETE_ELEM pops.
    while (true) {
      std::uint32_t count = 0;
      int err = 0;
      while (count < capacity) {
        err = with_retries(
            [&] {
              return sys::map_lookup_and_delete_elem(fd, nullptr, values + count * value_bytes,
                                                     options.elem_flags);
            },
            &stats);
        if (err != 0) break;
        ++count;
      }
      if (count > 0) {
        ++stats.batches;
        stats.elements += count;
        const batch current(info, buffers.keys(), buffers.values(), count);
        co_yield current;
      }
      if (err == ENOENT) co_return stop_reason{};
      if (err != 0) co_return stop_reason{make_error(err), command::map_lookup_and_delete_elem};
    }
  }

  // A drain walk: take the next key while the current one still exists (a
  // missing key sends GET_NEXT_KEY back to the first key, which would make
  // the walk quadratic), then remove the current one. Elements removed before
  // an error are yielded before it is reported: none is lost.
  bool atomic_remove = true;
  int err = with_retries([&] { return sys::map_get_next_key(fd, nullptr, saved_key); }, &stats);
  if (err == ENOENT) co_return stop_reason{};
  if (err != 0) co_return stop_reason{make_error(err), command::map_get_next_key};
  while (true) {
    std::uint32_t count = 0;
    bool at_end = false;
    stop_reason failure;
    while (count < capacity && !at_end) {
      std::byte* key = keys + count * key_size;
      std::memcpy(key, saved_key, key_size);
      err = with_retries([&] { return sys::map_get_next_key(fd, key, saved_key); }, &stats);
      if (err == ENOENT) {
        at_end = true;
      } else if (err != 0) {
        failure = {make_error(err), command::map_get_next_key};
        break;
      }
      command failed = command::none;
      err = remove_element(fd, key, values + count * value_bytes, options.elem_flags, atomic_remove, failed,
                           &stats);
      if (err == 0) {
        ++count;
      } else if (err != ENOENT) {  // ENOENT: someone else removed it first
        failure = {make_error(err), failed};
        break;
      }
    }
    if (count > 0) {
      ++stats.batches;
      stats.elements += count;
      const batch current(info, buffers.keys(), buffers.values(), count);
      co_yield current;
    }
    if (failure.error) co_return failure;
    if (at_end) co_return stop_reason{};
  }
}

}  // namespace

batch_generator lookup_batches(const map& m, batch_options options) {
  return run(command::map_lookup_batch, m.fd(), m.info(), options, nullptr);
}

batch_generator lookup_batches(const map& m, batch_buffers& buffers, batch_options options) {
  return run(command::map_lookup_batch, m.fd(), m.info(), options, &buffers);
}

batch_generator lookup_and_delete_batches(const map& m, batch_options options) {
  return run(command::map_lookup_and_delete_batch, m.fd(), m.info(), options, nullptr);
}

batch_generator lookup_and_delete_batches(const map& m, batch_buffers& buffers, batch_options options) {
  return run(command::map_lookup_and_delete_batch, m.fd(), m.info(), options, &buffers);
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
  const int err = detail::probe_batch_command(m.fd(), c);
  if (err == 0) return true;
  if (err == errno_not_supported || err == EINVAL) return false;
  return make_error(err);
}

}  // namespace bpfbatch
