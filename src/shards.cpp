// lookup_shards() and lookup_and_delete_shards(): the parts of a map, and one
// iteration (iterate.cpp) over each.
#include <bpfbatch/shards.hpp>

#include <linux/bpf.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>

#include <bpfbatch/error.hpp>

#include "kernel_rules.hpp"
#include "readers.hpp"

namespace bpfbatch {

namespace {

enum class split { buckets, elements, whole };

// How this map can be split for this command and these options: only where
// each part can be read on its own (a batch command that resumes from a
// bucket or an index, or an mmap). A map read by the key walk is one part:
// GET_NEXT_KEY can start only from a key.
split split_of(const map& m, command c, const batch_options& options) noexcept {
  const map_info& info = m.info();
  if (options.method == iteration::key_walk) return split::whole;
  // Where the command is missing, the single part's iteration walks (or,
  // with iteration::batch, reports it); a descriptor that may not write
  // gets its EPERM from it.
  auto has_command = [&] { return detail::probe_batch_command(m.fd(), c) == 0; };
  if (detail::is_hash_family(info.type)) return has_command() ? split::buckets : split::whole;
  if (c == command::map_lookup_batch &&
      (info.type == map_type::array || info.type == map_type::percpu_array)) {
    const bool mapped = (info.map_flags & BPF_F_MMAPABLE) != 0 && options.method == iteration::automatic &&
                        options.elem_flags == 0;
    return mapped || has_command() ? split::elements : split::whole;
  }
  return split::whole;
}

// The buckets of a hash map: htab_map_alloc makes roundup_pow_of_two(max_entries).
std::uint64_t bucket_count(std::uint32_t max_entries) noexcept {
  return std::bit_ceil(std::uint64_t{std::max(max_entries, 1u)});
}

result<std::vector<batch_generator>> make_shards(command c, const map& m, std::size_t n,
                                                 batch_buffers* buffers, const batch_options& options) {
  // One stats object would be written by every shard's thread.
  if (n == 0 || options.stats != nullptr) return make_error(EINVAL);
  // One part is the whole map, read as lookup_batches() reads it: no probe.
  const split how = n == 1 ? split::whole : split_of(m, c, options);
  const std::uint64_t units =
      how == split::buckets ? bucket_count(m.info().max_entries) : std::max(m.info().max_entries, 1u);
  const std::uint64_t count = std::min<std::uint64_t>(n, units);
  std::vector<batch_generator> shards;
  shards.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t i = 0; i < count; ++i) {
    detail::shard_range range;  // the whole map
    if (how == split::whole) {
      if (i > 0) range = {0, 0, false};  // nothing
    } else {
      range.buckets = how == split::buckets;
      range.begin = static_cast<std::uint32_t>(i * units / count);
      // The last part reads until the kernel's ENOENT, whatever B really is.
      if (i + 1 < count) range.end = static_cast<std::uint32_t>((i + 1) * units / count);
    }
    shards.push_back(
        detail::start_iteration(c, m, options, buffers != nullptr ? &buffers[i] : nullptr, range));
  }
  return shards;
}

}  // namespace

result<std::vector<batch_generator>> lookup_shards(const map& m, unsigned n, batch_options options) {
  return make_shards(command::map_lookup_batch, m, n, nullptr, options);
}

result<std::vector<batch_generator>> lookup_and_delete_shards(const map& m, unsigned n,
                                                              batch_options options) {
  return make_shards(command::map_lookup_and_delete_batch, m, n, nullptr, options);
}

result<std::vector<batch_generator>> lookup_shards(const map& m, std::span<batch_buffers> buffers,
                                                   batch_options options) {
  return make_shards(command::map_lookup_batch, m, buffers.size(), buffers.data(), options);
}

result<std::vector<batch_generator>> lookup_and_delete_shards(const map& m, std::span<batch_buffers> buffers,
                                                              batch_options options) {
  return make_shards(command::map_lookup_and_delete_batch, m, buffers.size(), buffers.data(), options);
}

}  // namespace bpfbatch
