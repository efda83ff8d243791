// Internal: the ways an iteration gets its elements. Each reader fills the
// iteration's buffers and says how many elements it left there; the
// coroutine in iterate.cpp is the one loop that yields them.
#pragma once

#include <cstdint>
#include <system_error>

#include <bpfbatch/batch_buffers.hpp>
#include <bpfbatch/batch_generator.hpp>
#include <bpfbatch/batch_options.hpp>
#include <bpfbatch/command.hpp>
#include <bpfbatch/error.hpp>
#include <bpfbatch/iteration_stats.hpp>
#include <bpfbatch/map.hpp>
#include <bpfbatch/map_info.hpp>

#include "array_mapping.hpp"
#include "buffers_claim.hpp"

namespace bpfbatch::detail {

// What one step left in the buffers: `count` elements (keys at
// buffers.keys().data(), values at buffers.values().data()), and whether the
// iteration ends after them (`finished`; with an error, the elements come
// first: a drain has already deleted them).
struct read_step {
  std::uint32_t count = 0;
  bool finished = false;
  std::error_code error;
  command failed = command::none;

  static read_step end() noexcept { return {0, true, {}, command::none}; }
  static read_step failure(int err, command c) noexcept { return {0, true, make_error(err), c}; }
};

// The part of the map one shard reads (shards.cpp): hash buckets or array
// elements [begin, end). The whole map: begin 0, end `until_the_end` (the
// kernel's ENOENT ends it).
struct shard_range {
  static constexpr std::uint32_t until_the_end = UINT32_MAX;
  std::uint32_t begin = 0;
  std::uint32_t end = until_the_end;
  bool buckets = false;  // hash buckets; otherwise element indexes

  bool bounded() const noexcept { return end != until_the_end; }
  bool empty() const noexcept { return bounded() && begin >= end; }
};

// What every reader works with. The buffers are reached through the
// iteration's hold on them (reader::next() stops when they are gone);
// capacity: elements per batch, which they hold.
struct read_context {
  int fd;
  const map_info& info;
  const batch_options& options;
  buffers_claim& claim;
  iteration_stats& stats;
  std::uint32_t capacity;
  shard_range range;

  batch_buffers& buffers() const noexcept { return *claim.owner(); }
};

// A BPF_F_MMAPABLE array, copied from a read-only mapping: no bpf(2) call.
struct mapped_array_reader {
  array_mapping mapping;
  std::uint32_t next = 0;  // the range's begin, at first

  read_step step(read_context& c) noexcept;
};

// The batch commands (LOOKUP_BATCH, LOOKUP_AND_DELETE_BATCH), resuming from
// the kernel's token. `unsupported` is set, with nothing read, where the
// kernel or map type has no such command and the walk should take over.
struct batch_command_reader {
  command batch_command;
  std::uint32_t call_size = 0;  // this call's count: capacity, or more after ENOSPC
  bool have_token = false;      // in_batch holds where to go on (a call's token, or a shard's start)
  bool in_first = true;         // which half of token() holds in_batch
  bool unsupported = false;
  int retries = 0;  // passing errors in a row without progress
  // A shard: the next array element; whether a hash shard reads one bucket
  // per call near its end; memory to look past the end.
  std::uint32_t next_element = 0;
  bool one_bucket_at_a_time = false;
  bool reading_again = false;  // the call in hand reads again, with fewer, from where the last one did
  batch_buffers past_end{};

  // Where a shard starts: in_batch is its first bucket, or the element before its first.
  void start_at(read_context& c) noexcept;
  read_step step(read_context& c) noexcept;

 private:
  enum class at_shard_end { go_on, read_again, last };
  std::error_code grow_for_bucket(read_context& c) noexcept;
  at_shard_end check_shard_end(read_context& c, int err, std::uint32_t& copied, const std::byte* in_token,
                               const std::byte* out_token, std::error_code& error) noexcept;
  result<std::uint32_t> keep_before_end(read_context& c, std::uint32_t copied, std::uint32_t stop) noexcept;
  result<std::uint32_t> drop_keys_gone(read_context& c, std::uint32_t copied) noexcept;
};

// GET_NEXT_KEY from the previous key, and LOOKUP_ELEM of each.
struct key_walk_reader {
  bool started = false;  // the previous key is saved in token()

  read_step step(read_context& c) noexcept;
};

// A queue or stack: each BPF_MAP_LOOKUP_AND_DELETE_ELEM pops one value.
struct pop_reader {
  read_step step(read_context& c) noexcept;
};

// A drain where batches are missing: takes the next key while the current
// one still exists, then removes the current one.
struct drain_walk_reader {
  bool started = false;       // the key to remove next is saved in token()
  bool at_end = false;        // that key is the last one
  bool atomic_remove = true;  // BPF_MAP_LOOKUP_AND_DELETE_ELEM works here
  bool second_pass = false;   // the walk went back to the first key once

  read_step step(read_context& c) noexcept;

 private:
  int remove(read_context& c, const std::byte* key, std::byte* value, command& failed) noexcept;
};

// Chooses the reader for the map and options, and moves to the walk where
// batch commands turn out to be missing.
class reader {
 public:
  reader(read_context& context, command batch_command) noexcept;
  read_step next() noexcept;

 private:
  enum class strategy { mapped_array, batch_commands, key_walk, pops, drain_walk };
  strategy walk_strategy() const noexcept;

  read_context& c_;
  strategy strategy_;
  mapped_array_reader mapped_;
  batch_command_reader batches_;
  key_walk_reader key_walk_;
  pop_reader pops_;
  drain_walk_reader drain_walk_;
};

// Checks before the first kernel call: what no call can do for this map and
// these options (errors name command::none), then makes room in the buffers
// (and, for borrowed ones, checks the kernel can write all of it). The
// result is the capacity: elements per batch.
result<std::uint32_t> prepare(const map_info& info, const batch_options& options, buffers_claim& claim,
                              bool drain) noexcept;

// An iteration of `range` of the map (the whole map for lookup_batches()),
// on a duplicate of its descriptor.
batch_generator start_iteration(command batch_command, const map& m, batch_options options,
                                batch_buffers* buffers, shard_range range);

}  // namespace bpfbatch::detail
