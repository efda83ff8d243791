// The readers: mmap copy, batch commands, key walk, pops and drain walk.
#include "readers.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <initializer_list>

#include "kernel_rules.hpp"
#include "sizes.hpp"
#include "syscall.hpp"

namespace bpfbatch::detail {

namespace {

// kernel_can_write() without /dev/zero: a byte read(2) from a pipe into every
// page of each region (probes a page apart touch every page) and its last byte.
int kernel_can_write_each_page(const std::array<std::span<std::byte>, 3>& regions) noexcept {
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::size_t step = page > 0 ? static_cast<std::size_t>(page) : 4096;
  int pipe_ends[2];
  if (::pipe2(pipe_ends, O_CLOEXEC) != 0) return errno;
  int result = 0;
  for (const auto& region : regions) {
    for (std::size_t at = 0; at < region.size() && result == 0; at += step) {
      for (std::byte* probe : {region.data() + at, region.data() + std::min(at + step, region.size()) - 1}) {
        const char byte = 0;
        if (::write(pipe_ends[1], &byte, 1) != 1 || ::read(pipe_ends[0], probe, 1) != 1) result = errno;
        if (result != 0) break;
      }
    }
  }
  ::close(pipe_ends[0]);
  ::close(pipe_ends[1]);
  return result;
}

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

// The parts of the buffers an iteration of `elements` per batch uses.
std::array<std::span<std::byte>, 3> used_regions(const batch_buffers& buffers, const map_info& info,
                                                 std::uint32_t elements) noexcept {
  return {buffers.keys().first(std::size_t{elements} * info.key_size),
          buffers.values().first(static_cast<std::size_t>(std::uint64_t{elements} * info.value_bytes())),
          buffers.token().first(static_cast<std::size_t>(token_bytes(info)))};
}

bool regions_overlap(const std::array<std::span<std::byte>, 3>& regions) noexcept {
  for (std::size_t a = 0; a < regions.size(); ++a)
    for (std::size_t b = a + 1; b < regions.size(); ++b) {
      const auto& x = regions[a];
      const auto& y = regions[b];
      if (!x.empty() && !y.empty() && x.data() < y.data() + y.size() && y.data() < x.data() + x.size())
        return true;
    }
  return false;
}

// Has the kernel write zeros over every byte of each region: 0, or EFAULT
// where it cannot (a read-only page), with no signal, where a store of our
// own would be SIGSEGV. read(2) from /dev/zero, in pieces below the
// kernel's MAX_RW_COUNT (2 GiB); where /dev/zero cannot be opened (a
// container without /dev), a byte per page through a pipe. It costs what a
// memset of the regions costs: they are the memory one batch can use.
int kernel_can_write(const std::array<std::span<std::byte>, 3>& regions) noexcept {
  const int zeros = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
  if (zeros < 0) return kernel_can_write_each_page(regions);
  constexpr std::size_t piece = std::size_t{1} << 30;
  int result = 0;
  for (const auto& region : regions) {
    for (std::size_t at = 0; at < region.size() && result == 0;) {
      const std::size_t size = std::min(piece, region.size() - at);
      const ssize_t n = ::read(zeros, region.data() + at, size);
      if (n < 0 && errno == EINTR) continue;
      // Short: it stopped at a page it could not write.
      if (n != static_cast<ssize_t>(size)) result = n < 0 ? errno : EFAULT;
      at += size;
    }
  }
  ::close(zeros);
  return result;
}

std::byte* key_slot(read_context& c, std::uint32_t i) noexcept {
  return c.buffers().keys().data() + std::size_t{i} * c.info.key_size;
}

std::byte* value_slot(read_context& c, std::uint32_t i) noexcept {
  return c.buffers().values().data() + std::size_t{i} * static_cast<std::size_t>(c.info.value_bytes());
}

// Moves the elements of the batch [0, copied) that keep(i) accepts to its
// front, in their order; returns how many there are.
template <class Keep>
std::uint32_t compact(read_context& c, std::uint32_t copied, Keep keep) noexcept {
  const std::size_t key_size = c.info.key_size;
  const std::size_t value_size = static_cast<std::size_t>(c.info.value_bytes());
  std::uint32_t kept = 0;
  for (std::uint32_t i = 0; i < copied; ++i) {
    if (!keep(i)) continue;
    if (kept != i) {
      std::memmove(key_slot(c, kept), key_slot(c, i), key_size);
      std::memmove(value_slot(c, kept), value_slot(c, i), value_size);
    }
    ++kept;
  }
  return kept;
}

// Removes from the batch [0, copied) each element whose key is among `found`.
std::uint32_t drop_keys_found(read_context& c, std::uint32_t copied,
                              std::span<const std::byte> found) noexcept {
  const std::size_t key_size = c.info.key_size;
  return compact(c, copied, [&](std::uint32_t i) {
    for (std::size_t at = 0; at + key_size <= found.size(); at += key_size)
      if (std::memcmp(key_slot(c, i), found.data() + at, key_size) == 0) return false;
    return true;
  });
}

// A lookup shard that reads past its end reads again with fewer elements
// while the part in hand is larger than this, then one bucket at a time: a
// few calls at each boundary.
constexpr std::uint32_t small_overshoot = 8;

}  // namespace

read_step mapped_array_reader::step(read_context& c) noexcept {
  const std::uint32_t end = std::min(c.info.max_entries, c.range.end);
  if (next >= end) return read_step::end();
  const std::uint32_t count = std::min(c.capacity, end - next);
  mapping.copy(next, count, c.buffers().keys().data(), c.buffers().values().data());
  next += count;
  return {count, next >= end, {}, command::none};
}

void batch_command_reader::start_at(read_context& c) noexcept {
  const shard_range& range = c.range;
  next_element = range.begin;
  if (!range.buckets && range.begin == 0) return;  // NULL in_batch: from the first element
  // The hash path's in_batch is the bucket to read first; the generic path's
  // (arrays) is the last key read, and an array's next key is index + 1.
  const std::uint32_t token = range.buckets ? range.begin : range.begin - 1;
  std::memcpy(c.buffers().token().data(), &token, sizeof(token));  // in_first: the first half
  have_token = true;
}

read_step batch_command_reader::step(read_context& c) noexcept {
  while (true) {
    // The two tokens are the first token_bytes() of the token memory, which is
    // all an iteration checks and uses, however much was borrowed.
    const std::size_t token_size = static_cast<std::size_t>(token_bytes(c.info) / 2);
    std::byte* in_token = c.buffers().token().data() + (in_first ? 0 : token_size);
    std::byte* out_token = c.buffers().token().data() + (in_first ? token_size : 0);
    std::uint32_t count = call_size;
    // An array shard asks for no element past its end.
    if (c.range.bounded() && !c.range.buckets) {
      if (next_element >= c.range.end) return read_step::end();
      count = std::min(count, c.range.end - next_element);
    }
    poison(out_token);
    // in_batch is NULL only on the first call: a zeroed token is not "the
    // start" (on an array it skips element 0).
    const int err =
        sys::map_batch(batch_command, c.fd, have_token ? in_token : nullptr, out_token,
                       c.buffers().keys().data(), c.buffers().values().data(), count, c.options.elem_flags);
    ++c.stats.syscalls;
    const bool wrote = kernel_wrote(out_token);
    // Elements come with 0 and with every error that left through the
    // kernel's copy-out (ENOENT at the end; EBUSY, EDEADLK, ETIMEDOUT, ENOMEM
    // from a bucket): a drain has already deleted them, so they are yielded
    // before the error counts.
    std::uint32_t copied = err == 0 || wrote ? count : 0;
    if (copied > call_size) return read_step::failure(EPROTO, batch_command);
    if (c.range.bounded() && c.range.buckets && wrote) {
      std::error_code error;
      switch (check_shard_end(c, err, copied, in_token, out_token, error)) {
        case at_shard_end::read_again:
          continue;  // from the same in_batch
        case at_shard_end::last:
          return {copied, true, error, error ? command::map_lookup_batch : command::none};
        case at_shard_end::go_on:
          break;
      }
    }
    next_element += copied;
    if (wrote) {
      in_first = !in_first;
      have_token = true;
    }
    if (copied > 0) retries = 0;

    // 0 with fewer elements than asked is not the end: the hash path stops
    // before a bucket that would not fit. Only ENOENT ends.
    if (err == 0) {
      // Back to the requested size after an ENOSPC retry; a shard near its
      // end keeps the smaller size it has found.
      call_size = c.range.bounded() ? std::min(call_size, c.capacity) : c.capacity;
      if (copied > 0) return {copied, false, {}, command::none};
      continue;
    }
    if (err == ENOENT) return {copied, true, {}, command::none};
    if (err == ENOSPC && copied == 0) {
      if (auto grow_error = grow_for_bucket(c)) return {0, true, grow_error, batch_command};
      continue;
    }
    if (is_passing(err) && retries < max_busy_retries) {
      ++retries;
      ++c.stats.busy_retries;
      wait_before_retry(err);
      // The elements in hand go out first; the next step resumes from the token.
      if (copied > 0) return {copied, false, {}, command::none};
      continue;
    }
    // No such batch command here: the walk takes over, if nothing was read.
    if (c.options.method == iteration::automatic && !have_token &&
        batch_unsupported(err, c.fd, batch_command)) {
      unsupported = true;
      return {};
    }
    return {copied, true, make_error(err), batch_command};
  }
}

// A shard of a hash map ends where the next one starts, at bucket `end`.
// __htab_map_lookup_and_delete_batch skips empty buckets, copies whole
// buckets while they fit, and writes as out_batch the first non-empty bucket
// it did not read (or returns ENOENT after the last); ENOSPC names the first
// non-empty bucket without reading it. So a call whose out_batch is at most
// `end` read only this shard's buckets, and one past it (or at ENOENT) may
// also have read the next shard's first non-empty ones.
//
// A lookup that read past the end changed nothing: it is read again, with
// fewer elements, then one bucket at a time (a count of 1, grown at an
// ENOSPC until the first non-empty bucket fits). Reading from a
// token the kernel wrote, that bucket is the token's, below the end, unless
// a writer emptied it in between. The last such read is then kept but for
// the keys keep_before_end() finds past the end, which also sorts out a
// shard that starts with empty buckets (its first token is ours, not the
// kernel's).
batch_command_reader::at_shard_end batch_command_reader::check_shard_end(read_context& c, int err,
                                                                         std::uint32_t& copied,
                                                                         const std::byte* in_token,
                                                                         const std::byte* out_token,
                                                                         std::error_code& error) noexcept {
  const std::uint32_t end = c.range.end;
  std::uint32_t in, out;
  std::memcpy(&in, in_token, sizeof(in));
  std::memcpy(&out, out_token, sizeof(out));
  if (err == ENOSPC && copied == 0) {
    if (out >= end) return at_shard_end::last;  // nothing of this shard's is left
    // A bucket this side of the end, larger than the count read again with:
    // it is read whole (ENOSPC's growth), and what that read brings from
    // past the end is sorted out below, rather than reading again with
    // fewer, which would come back here for ever.
    if (reading_again) one_bucket_at_a_time = true;
    return at_shard_end::go_on;
  }
  if (err != ENOENT && out <= end) {
    reading_again = false;
    if (one_bucket_at_a_time) call_size = 1;
    return out == end ? at_shard_end::last : at_shard_end::go_on;
  }
  // Past the end. A drain has deleted what it read: each element is
  // yielded once, by the shard that deleted it, wherever its bucket is.
  if (copied == 0 || batch_command == command::map_lookup_and_delete_batch) return at_shard_end::last;
  if (!one_bucket_at_a_time) {
    reading_again = true;
    if (copied <= small_overshoot) {
      one_bucket_at_a_time = true;
      call_size = 1;
      return at_shard_end::read_again;
    }
    // Elements spread evenly over buckets: the share of the call's buckets
    // that lie before the end (half, after ENOENT, whose bucket is unknown).
    std::uint64_t estimate = copied / 2;
    if (err != ENOENT && out > in && end > in) estimate = std::uint64_t{copied} * (end - in) / (out - in);
    call_size = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(estimate, 1, copied - 1));
    return at_shard_end::read_again;
  }
  auto kept = keep_before_end(c, copied, err == ENOENT ? shard_range::until_the_end : out);
  if (!kept) {
    error = kept.error();
    copied = 0;
  } else {
    copied = *kept;
  }
  return at_shard_end::last;
}

// The lookup in hand ([0, copied)) read buckets on both sides of the shard's
// end, up to `stop` (its out_batch). A key's bucket comes from the map's
// secret hash seed, so which ones are past the end is not known; but a key
// lives in one bucket all its life. A second lookup of the buckets [end,
// stop) returns every key of the first that lies past the end and is still
// there, and never a key from before the end: dropping those keys keeps
// exactly this shard's part for every key present during both calls. (A key
// past the end that is deleted between the two calls is kept; the next shard
// may also have read it before the delete.)
result<std::uint32_t> batch_command_reader::keep_before_end(read_context& c, std::uint32_t copied,
                                                            std::uint32_t stop) noexcept {
  const std::uint32_t limit = std::min(max_batch_elements(c.info), std::max(c.info.max_entries, 1u));
  std::uint32_t room = std::min(limit, std::max(copied, 16u));
  std::uint32_t from = c.range.end;
  int busy = 0;
  while (true) {
    auto reserved = past_end.reserve(c.info, room);
    if (!reserved) return reserved.error();
    std::byte* in = past_end.token().data();
    std::byte* out = in + static_cast<std::size_t>(token_bytes(c.info) / 2);
    std::memcpy(in, &from, sizeof(from));
    poison(out);
    std::uint32_t count = room;
    const int err = sys::map_batch(command::map_lookup_batch, c.fd, in, out, past_end.keys().data(),
                                   past_end.values().data(), count, c.options.elem_flags);
    ++c.stats.syscalls;
    const bool wrote = kernel_wrote(out);
    const std::uint32_t got = err == 0 || wrote ? count : 0;
    if (got > room) return make_error(EPROTO);
    copied = drop_keys_found(c, copied, past_end.keys().first(std::size_t{got} * c.info.key_size));
    if (wrote) std::memcpy(&from, out, sizeof(from));
    if (err == ENOENT || (wrote && from >= stop)) return drop_keys_gone(c, copied);
    if (err == ENOSPC && got == 0) {  // a bucket larger than room, before stop
      if (room >= limit) return make_error(ENOSPC);
      room = room > limit / 2 ? limit : room * 2;
    } else if (is_passing(err) && got == 0) {
      if (++busy > max_busy_retries) return make_error(err);
      wait_before_retry(err);
    } else if (err != 0 && !is_passing(err)) {
      return make_error(err);
    }
  }
}

// A key of the lookup in hand that the second lookup did not find is this
// shard's, or was deleted in between (and may have been read by the next
// shard before): one that is gone now was not present throughout the pass,
// and is dropped. What remains of the race is a key past the end deleted
// and inserted again between the two lookups and this check.
result<std::uint32_t> batch_command_reader::drop_keys_gone(read_context& c, std::uint32_t copied) noexcept {
  std::byte* value = past_end.values().data();  // room for one value, unused
  int failed = 0;
  const std::uint32_t kept = compact(c, copied, [&](std::uint32_t i) {
    if (failed != 0) return true;
    const std::byte* key = key_slot(c, i);
    const int err =
        with_retries([&] { return sys::map_lookup_elem(c.fd, key, value, c.options.elem_flags); }, &c.stats);
    if (err != 0 && err != ENOENT) failed = err;
    return err != ENOENT;
  });
  if (failed != 0) return make_error(failed);
  return kept;
}

// The next hash bucket holds more elements than call_size. Nothing was
// copied or deleted, and out_batch holds that bucket's index: retry from
// there with room for it, then go back to the requested size.
std::error_code batch_command_reader::grow_for_bucket(read_context& c) noexcept {
  const std::uint32_t limit = std::min(max_batch_elements(c.info), std::max(c.info.max_entries, 1u));
  const std::uint32_t wanted = call_size > limit / 2 ? limit : call_size * 2;
  if (wanted <= call_size) return make_error(ENOSPC);
  auto grown = c.claim.make_room(c.info, wanted);
  if (!grown) return grown.error();
  if (*grown <= call_size) return make_error(ENOSPC);  // borrowed memory holds no more
  // Borrowed memory is used further than before: the kernel must be able to
  // write those keys and values too before a drain lets it delete into them.
  // Not the token, which holds the bucket this call resumes from.
  if (c.buffers().borrowed()) {
    const auto regions = used_regions(c.buffers(), c.info, *grown);
    if (const int err = kernel_can_write({regions[0], regions[1], {}})) return make_error(err);
  }
  call_size = *grown;
  ++c.stats.no_space_retries;
  return {};
}

read_step key_walk_reader::step(read_context& c) noexcept {
  std::byte* saved_key = c.buffers().token().data();
  const std::byte* previous = started ? saved_key : nullptr;  // NULL asks for the first key
  std::uint32_t count = 0;
  while (count < c.capacity) {
    std::byte* key = key_slot(c, count);
    int err = with_retries([&] { return sys::map_get_next_key(c.fd, previous, key); }, &c.stats);
    if (err == ENOENT) return {count, true, {}, command::none};
    if (err != 0) return {count, true, make_error(err), command::map_get_next_key};
    // The next key follows this one even if it is deleted before the lookup.
    previous = key;
    err = with_retries(
        [&] { return sys::map_lookup_elem(c.fd, key, value_slot(c, count), c.options.elem_flags); },
        &c.stats);
    // Deleted between GET_NEXT_KEY and LOOKUP_ELEM: not an element any more.
    if (err == ENOENT) continue;
    if (err != 0) return {count, true, make_error(err), command::map_lookup_elem};
    ++count;
  }
  // The next batch overwrites the key slots: keep the last key apart.
  std::memmove(saved_key, previous, c.info.key_size);
  started = true;
  return {count, false, {}, command::none};
}

read_step pop_reader::step(read_context& c) noexcept {
  std::uint32_t count = 0;
  while (count < c.capacity) {
    const int err = with_retries(
        [&] {
          return sys::map_lookup_and_delete_elem(c.fd, nullptr, value_slot(c, count), c.options.elem_flags);
        },
        &c.stats);
    if (err == ENOENT) return {count, true, {}, command::none};
    if (err != 0) return {count, true, make_error(err), command::map_lookup_and_delete_elem};
    ++count;
  }
  return {count, false, {}, command::none};
}

// Taking the next key before removing the current one keeps the walk linear:
// GET_NEXT_KEY from a key that is gone starts again from the first key
// (htab_map_get_next_key, trie_get_next_key). Elements removed before an
// error are yielded before it is reported: none is lost.
read_step drain_walk_reader::step(read_context& c) noexcept {
  std::byte* saved_key = c.buffers().token().data();  // the key to remove next
  if (!started) {
    const int err = with_retries([&] { return sys::map_get_next_key(c.fd, nullptr, saved_key); }, &c.stats);
    if (err == ENOENT) return read_step::end();
    if (err != 0) return read_step::failure(err, command::map_get_next_key);
    started = true;
  }
  std::uint32_t count = 0;
  while (count < c.capacity && !at_end) {
    std::byte* key = key_slot(c, count);
    std::memcpy(key, saved_key, c.info.key_size);
    int err = with_retries([&] { return sys::map_get_next_key(c.fd, key, saved_key); }, &c.stats);
    if (err == ENOENT) {
      at_end = true;
    } else if (err != 0) {
      return {count, true, make_error(err), command::map_get_next_key};
    }
    command failed = command::none;
    err = remove(c, key, value_slot(c, count), failed);
    if (err == 0) {
      ++count;
    } else if (err != ENOENT) {  // ENOENT: someone else removed it first
      return {count, true, make_error(err), failed};
    }
  }
  // GET_NEXT_KEY can pass over a key that a writer replaces meanwhile (an
  // LPM trie's update swaps the node that trie_get_next_key walks through:
  // seen on 5.10), which then stays behind. A drain may start again from the
  // first key without yielding anything twice: once, so that a writer that
  // keeps inserting cannot keep it going.
  if (at_end && !second_pass) {
    second_pass = true;
    started = at_end = false;
    return {count, false, {}, command::none};
  }
  return {count, at_end, {}, command::none};
}

// Removes one element, its value copied to `value` first.
// BPF_MAP_LOOKUP_AND_DELETE_ELEM does both at once for hash maps since 5.14;
// elsewhere (an LPM trie, older kernels: 524 or EINVAL) it is a lookup and a
// delete, which no kernel command makes atomic: a value written in between
// is deleted unseen (see drain_method::lookup_then_delete). An element
// deleted by someone else in between is not ours (ENOENT).
int drain_walk_reader::remove(read_context& c, const std::byte* key, std::byte* value,
                              command& failed) noexcept {
  const std::uint64_t flags = c.options.elem_flags;
  if (atomic_remove) {
    failed = command::map_lookup_and_delete_elem;
    const int err =
        with_retries([&] { return sys::map_lookup_and_delete_elem(c.fd, key, value, flags); }, &c.stats);
    if (err != errno_not_supported && err != EINVAL) return err;
    atomic_remove = false;
  }
  failed = command::map_lookup_elem;
  const int err = with_retries([&] { return sys::map_lookup_elem(c.fd, key, value, flags); }, &c.stats);
  if (err != 0) return err;
  // DELETE_ELEM takes no flags: BPF_F_LOCK belongs to the lookup only.
  failed = command::map_delete_elem;
  return with_retries([&] { return sys::map_delete_elem(c.fd, key); }, &c.stats);
}

reader::reader(read_context& context, command batch_command) noexcept
    : c_(context), strategy_(strategy::batch_commands), batches_{batch_command, context.capacity} {
  const bool drain = batch_command == command::map_lookup_and_delete_batch;
  // An array made with BPF_F_MMAPABLE: its values are read from a read-only
  // mapping, in batches of the same size, with no bpf(2) call. Only plain
  // lookups (BPF_F_LOCK needs a spin lock, which bpf_map_mmap refuses).
  // Where mmap refuses, the batch commands give the kernel's answer (a
  // write-only descriptor: EPERM).
  if (!drain && c_.options.method == iteration::automatic && c_.options.elem_flags == 0) {
    mapped_.mapping = array_mapping::open(c_.fd, c_.info);
    mapped_.next = c_.range.begin;
    if (mapped_.mapping) {
      strategy_ = strategy::mapped_array;
      c_.stats.memory_mapped = true;
      return;
    }
  }
  if (c_.options.method == iteration::key_walk) {
    strategy_ = walk_strategy();
    c_.stats.walked = true;
    return;
  }
  batches_.start_at(c_);
}

reader::strategy reader::walk_strategy() const noexcept {
  if (batches_.batch_command == command::map_lookup_batch) return strategy::key_walk;
  return is_queue_or_stack(c_.info.type) ? strategy::pops : strategy::drain_walk;
}

read_step reader::next() noexcept {
  // The buffers object holding the memory was destroyed or assigned over:
  // the kernel must not write into memory the iteration no longer holds.
  if (c_.claim.owner() == nullptr) return read_step::failure(EINVAL, command::none);
  switch (strategy_) {
    case strategy::mapped_array:
      return mapped_.step(c_);
    case strategy::batch_commands: {
      read_step step = batches_.step(c_);
      if (!batches_.unsupported) return step;
      // A walk reads the whole map: never in place of one shard's part
      // (shards.cpp makes such maps one whole shard).
      if (c_.range.bounded() || c_.range.begin != 0)
        return read_step::failure(errno_not_supported, command::none);
      strategy_ = walk_strategy();
      c_.stats.walked = true;
      return next();
    }
    case strategy::key_walk:
      return key_walk_.step(c_);
    case strategy::pops:
      return pops_.step(c_);
    case strategy::drain_walk:
      return drain_walk_.step(c_);
  }
  return read_step::failure(EINVAL, command::none);
}

result<std::uint32_t> prepare(const map_info& info, const batch_options& options, buffers_claim& claim,
                              bool drain) noexcept {
  if (drain ? !can_be_drained(info.type) : !can_be_listed(info.type)) return make_error(errno_not_supported);
  // No call returns more than max_entries elements: a larger size only costs memory.
  const std::uint32_t requested = options.batch_size != 0
                                      ? std::min(options.batch_size, std::max(info.max_entries, 1u))
                                      : default_batch_size(info);
  if (requested > max_batch_elements(info)) return make_error(EOVERFLOW);
  auto reserved = claim.make_room(info, requested);
  if (!reserved) return reserved.error();
  // Borrowed buffers too small for one element (or for the tokens).
  if (*reserved == 0) return make_error(ENOBUFS);
  const batch_buffers& buffers = *claim.owner();
  if (buffers.borrowed()) {
    // Regions that overlap would have the kernel write keys over values or
    // tokens; a grown call could reach what this one does not, so whole spans.
    if (regions_overlap({buffers.keys(), buffers.values(), buffers.token()})) return make_error(EINVAL);
    const auto regions = used_regions(buffers, info, *reserved);
    // Unwritable memory would be found by the kernel's EFAULT, which a
    // drain gets after the elements were deleted (kernel-facts.md), or by a
    // store of our own (the token's poison, an mmap copy): SIGSEGV.
    if (const int err = kernel_can_write(regions)) return make_error(err);
  }
  return *reserved;
}

}  // namespace bpfbatch::detail
