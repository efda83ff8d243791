// Arrays made with BPF_F_MMAPABLE: iteration::automatic reads them through a
// read-only mmap of their values, with no bpf(2) call, and must yield exactly
// what the batch commands and a GET_NEXT_KEY walk yield.
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "faults.hpp"
#include "support.hpp"

using namespace bpfbatch;

namespace {

map filled_mmapable_array(std::uint32_t value_size, std::uint32_t max_entries) {
  map m = support::create(map_type::array, 4, value_size, max_entries, BPF_F_MMAPABLE);
  support::fill(m, max_entries);
  return m;
}

// The size of every batch an iteration yields, in order, and what it read.
struct pass {
  std::vector<std::size_t> batch_sizes;
  support::contents contents;
  iteration_stats stats;
  std::error_code error;
};

pass read_pass(const map& m, batch_options options) {
  pass p;
  options.stats = &p.stats;
  auto gen = lookup_batches(m, options);
  p.contents = support::collect(gen, &p.batch_sizes);
  p.error = gen.error();
  return p;
}

}  // namespace

TEST_CASE(
    "a BPF_F_MMAPABLE array is read through mmap, with no bpf(2) call, and equals a GET_NEXT_KEY walk") {
  REQUIRE_KERNEL();
  for (std::uint32_t value_size : {1u, 4u, 8u, 12u, 13u, 64u}) {
    for (std::uint32_t entries : {1u, 63u, 64u, 65u, 1000u}) {
      INFO("value_size ", value_size, ", ", entries, " entries");
      map m = filled_mmapable_array(value_size, entries);
      const pass p = read_pass(m, {.batch_size = 64});
      CHECK_FALSE(p.error);
      CHECK(p.stats.memory_mapped);
      CHECK(p.stats.syscalls == 0);
      CHECK(p.stats.elements == entries);
      CHECK(p.contents == support::reference_walk(m.fd()));
      for (const auto& [key, values] : p.contents) {
        std::uint32_t index = 0;
        std::memcpy(&index, key.data(), 4);
        CHECK(values[0] == support::value_bytes(value_size, index, 0));
      }
    }
  }
}

TEST_CASE("a BPF_F_MMAPABLE array yields the same batches through mmap as through LOOKUP_BATCH") {
  REQUIRE_KERNEL();
  map m = filled_mmapable_array(12, 100'000);
  for (std::uint32_t batch_size : {0u, 64u, 4096u, 100'000u}) {
    INFO("batch_size ", batch_size);
    const pass mapped = read_pass(m, {.batch_size = batch_size});
    const pass batched = read_pass(m, {.batch_size = batch_size, .method = iteration::batch});
    CHECK_FALSE(mapped.error);
    CHECK_FALSE(batched.error);
    CHECK(mapped.stats.memory_mapped);
    CHECK_FALSE(batched.stats.memory_mapped);
    CHECK(batched.stats.syscalls > 0);
    CHECK(mapped.batch_sizes == batched.batch_sizes);
    CHECK(mapped.contents == batched.contents);
    CHECK(mapped.contents.size() == 100'000);
  }
}

TEST_CASE("reading a BPF_F_MMAPABLE array needs no bpf(2) command once the map is open") {
  REQUIRE_KERNEL();
  map m = filled_mmapable_array(8, 5000);
  const auto truth = support::reference_walk(m.fd());
  CHECK(support::in_child([&] {
          // Every command a lookup could use fails from here on.
          if (!support::inject_bpf_error(
                  {BPF_MAP_LOOKUP_BATCH, BPF_MAP_LOOKUP_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_OBJ_GET_INFO_BY_FD},
                  EPERM))
            return std::string("seccomp filter");
          const pass p = read_pass(m, {});
          if (p.error) return "error " + p.error.message();
          if (!p.stats.memory_mapped) return std::string("not read through mmap");
          if (p.contents != truth) return std::string("other contents");
          return std::string();
        }) == "");
}

TEST_CASE("a batch read through mmap is a copy that later writes to the map do not change") {
  REQUIRE_KERNEL();
  map m = filled_mmapable_array(8, 10);
  iteration_stats stats;
  auto gen = lookup_batches(m, {.stats = &stats});
  auto it = gen.begin();
  REQUIRE(it != gen.end());
  const batch& b = *it;
  REQUIRE(stats.memory_mapped);
  const std::uint32_t key = 3;
  const std::uint64_t before = b.value_as<std::uint64_t>(3).value_or(0);
  const std::uint64_t changed = ~before;
  REQUIRE(m.update_element(std::as_bytes(std::span(&key, 1)), std::as_bytes(std::span(&changed, 1))));
  CHECK(b.value_as<std::uint64_t>(3) == before);
  // The map itself did change: a new pass sees the write.
  const pass again = read_pass(m, {});
  std::uint64_t now = 0;
  std::memcpy(&now, again.contents.at(support::key_bytes(4, 3))[0].data(), 8);
  CHECK(now == changed);
}

TEST_CASE("borrowed buffers bound the batches read through mmap and are written within their size") {
  REQUIRE_KERNEL();
  map m = filled_mmapable_array(13, 25);
  // Room for 10 elements exactly (values packed 13 bytes apart), and a
  // canary byte after each buffer.
  std::vector<std::byte> keys(10 * 4 + 1, std::byte{0xa5}), values(10 * 13 + 1, std::byte{0xa5}), token(8);
  auto buffers = batch_buffers::borrow(std::span(keys).first(40), std::span(values).first(130), token);
  iteration_stats stats;
  std::vector<std::size_t> sizes;
  support::contents got;
  {
    auto gen = lookup_batches(m, buffers, {.stats = &stats});
    for (const batch& b : gen) {
      sizes.push_back(b.size());
      CHECK(b.keys().data() == keys.data());
      CHECK(b.values().data() == values.data());
    }
    CHECK_FALSE(gen.error());
  }
  CHECK(stats.memory_mapped);
  CHECK(sizes == std::vector<std::size_t>{10, 10, 5});
  CHECK(keys.back() == std::byte{0xa5});
  CHECK(values.back() == std::byte{0xa5});
}

TEST_CASE("polling a BPF_F_MMAPABLE array with reused buffers allocates only the coroutine frame") {
  REQUIRE_KERNEL();
  map m = filled_mmapable_array(8, 10'000);
  batch_buffers buffers;
  for (const batch& b : lookup_batches(m, buffers)) (void)b;  // the buffers grow once
  const std::uint64_t before = support::allocations();
  iteration_stats stats;
  std::uint64_t elements = 0;
  {
    auto gen = lookup_batches(m, buffers, {.stats = &stats});
    for (const batch& b : gen) elements += b.size();
  }
  CHECK(stats.memory_mapped);
  CHECK(elements == 10'000);
  CHECK(support::allocations() - before == 1);
}

TEST_CASE("a frozen BPF_F_MMAPABLE array is still read through mmap") {
  REQUIRE_KERNEL();
  map m = filled_mmapable_array(8, 100);
  REQUIRE(support::freeze(m.fd()) == 0);
  const pass p = read_pass(m, {});
  CHECK_FALSE(p.error);
  CHECK(p.stats.memory_mapped);
  CHECK(p.contents == support::reference_walk(m.fd()));
}

TEST_CASE("a write-only descriptor of a BPF_F_MMAPABLE array cannot be read: EPERM as for any map") {
  REQUIRE_KERNEL();
  map m = filled_mmapable_array(8, 100);
  auto write_only = map::open_id(m.info().id, {access::write_only});
  REQUIRE(write_only);
  // mmap refuses a descriptor without read rights, and the batch command
  // then gives the kernel's answer.
  const pass p = read_pass(*write_only, {});
  CHECK(p.error.value() == EPERM);
  CHECK_FALSE(p.stats.memory_mapped);
  CHECK(p.contents.empty());
}

TEST_CASE("iteration::batch and iteration::key_walk never read a BPF_F_MMAPABLE array through mmap") {
  REQUIRE_KERNEL();
  map m = filled_mmapable_array(8, 100);
  for (iteration method : {iteration::batch, iteration::key_walk}) {
    const pass p = read_pass(m, {.method = method});
    CHECK_FALSE(p.error);
    CHECK_FALSE(p.stats.memory_mapped);
    CHECK(p.stats.syscalls > 0);
    CHECK(p.contents == support::reference_walk(m.fd()));
  }
}
