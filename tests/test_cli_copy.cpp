// The tool's copy: every element of one map written into another; --drain
// moves them, and loses none when the destination refuses some. Checked
// against GET_NEXT_KEY walks of both maps (support::reference_walk).
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include <bpfbatch/map.hpp>

#include "cli_support.hpp"
#include "support.hpp"

using namespace bpfbatch;
using cli_support::cli;
using cli_support::pinned_map;

namespace {

pinned_map filled(map_type type, std::uint32_t value_size, std::uint32_t entries, std::uint32_t max_entries,
                  const std::string& name) {
  map m = support::create(type, 4, value_size, max_entries);
  support::fill(m, entries);
  return pinned_map(std::move(m), name);
}

pinned_map empty(map_type type, std::uint32_t value_size, std::uint32_t max_entries,
                 const std::string& name) {
  return pinned_map(support::create(type, 4, value_size, max_entries), name);
}

// Both maps' elements together, failing the test on a key held by both with
// different values (a move never duplicates an element).
support::contents united(const support::contents& a, const support::contents& b) {
  support::contents all = a;
  for (const auto& [key, values] : b) {
    auto [it, inserted] = all.emplace(key, values);
    if (!inserted) CHECK(it->second == values);
  }
  return all;
}

}  // namespace

TEST_CASE("copy writes every element of a hash into an empty twin and says how many") {
  REQUIRE_KERNEL();
  pinned_map source = filled(map_type::hash, 8, 3000, 4096, "copy_src");
  pinned_map destination = empty(map_type::hash, 8, 4096, "copy_dst");
  auto r = cli({"copy", "pinned", source.path, "pinned", destination.path, "--batch-size", "100"});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "Copied 3000 entries\n");
  const auto original = support::reference_walk(source.m.fd());
  CHECK(original.size() == 3000);
  CHECK(support::reference_walk(destination.m.fd()) == original);
}

TEST_CASE("copy of a per-CPU hash keeps every CPU's value, with -j counting them") {
  REQUIRE_KERNEL();
  pinned_map source = filled(map_type::percpu_hash, 12, 500, 512, "copy_pcpu_src");
  pinned_map destination = empty(map_type::percpu_hash, 12, 512, "copy_pcpu_dst");
  auto r = cli({"-j", "copy", "pinned", source.path, "pinned", destination.path});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "{\"copied\":500}\n");
  CHECK(support::reference_walk(destination.m.fd()) == support::reference_walk(source.m.fd()));
}

TEST_CASE("copy --drain moves every element and leaves the source empty") {
  REQUIRE_KERNEL();
  pinned_map source = filled(map_type::hash, 8, 2000, 2048, "move_src");
  pinned_map destination = empty(map_type::hash, 8, 4096, "move_dst");
  const auto original = support::reference_walk(source.m.fd());
  auto r = cli({"copy", "pinned", source.path, "pinned", destination.path, "--drain"});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "Moved 2000 entries\n");
  CHECK(support::reference_walk(source.m.fd()).empty());
  CHECK(support::reference_walk(destination.m.fd()) == original);
}

TEST_CASE(
    "copy --drain into a destination that fills up midway loses nothing: source plus destination is "
    "the original set") {
  REQUIRE_KERNEL();
  pinned_map source = filled(map_type::hash, 8, 1000, 1024, "move_full_src");
  pinned_map destination = empty(map_type::hash, 8, 300, "move_full_dst");
  const auto original = support::reference_walk(source.m.fd());
  auto r = cli({"copy", "pinned", source.path, "pinned", destination.path, "--drain", "--batch-size", "128"});
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err.find("the map is full (300 entries); 300 entries moved before it, ") != std::string::npos);
  const auto left = support::reference_walk(source.m.fd());
  const auto moved = support::reference_walk(destination.m.fd());
  CHECK(moved.size() == 300);
  CHECK(left.size() == 700);
  CHECK(united(left, moved) == original);
}

TEST_CASE("copy --drain moves a queue's values, in order") {
  REQUIRE_KERNEL();
  map source_map = support::create(map_type::queue, 0, 4, 64);
  for (std::uint32_t i = 0; i < 40; ++i) REQUIRE(source_map.push(std::as_bytes(std::span(&i, 1))));
  pinned_map source(std::move(source_map), "move_queue_src");
  pinned_map destination = pinned_map(support::create(map_type::queue, 0, 4, 64), "move_queue_dst");
  auto r = cli({"copy", "pinned", source.path, "pinned", destination.path, "--drain"});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "Moved 40 entries\n");
  std::uint32_t value = 0;
  CHECK_FALSE(source.m.pop(std::as_writable_bytes(std::span(&value, 1))));  // empty: ENOENT
  for (std::uint32_t i = 0; i < 40; ++i) {
    REQUIRE(destination.m.pop(std::as_writable_bytes(std::span(&value, 1))));
    CHECK(value == i);
  }
}

TEST_CASE("copy refuses maps whose keys, values or per-CPU layout differ, and touches neither") {
  REQUIRE_KERNEL();
  pinned_map source = filled(map_type::hash, 8, 10, 16, "copy_refuse_src");
  pinned_map other_value = empty(map_type::hash, 12, 16, "copy_refuse_val");
  pinned_map per_cpu = empty(map_type::percpu_hash, 8, 16, "copy_refuse_pcpu");
  pinned_map queue(support::create(map_type::queue, 0, 8, 16), "copy_refuse_q");
  for (const pinned_map* destination : {&other_value, &per_cpu}) {
    auto r = cli({"copy", "pinned", source.path, "pinned", destination->path, "--drain"});
    CHECK(r.status == 1);
    CHECK(r.err.find("cannot copy a hash map into a ") != std::string::npos);
    CHECK(support::reference_walk(destination->m.fd()).empty());
  }
  auto itself = cli({"copy", "pinned", source.path, "pinned", source.path, "--drain"});
  CHECK(itself.status == 1);
  CHECK(itself.err.find("cannot copy a map into itself") != std::string::npos);
  pinned_map other_queue(support::create(map_type::queue, 0, 8, 16), "copy_refuse_q2");
  pinned_map lru = empty(map_type::lru_hash, 8, 4096, "copy_refuse_lru");
  auto into_lru = cli({"copy", "pinned", source.path, "pinned", lru.path, "--drain"});
  CHECK(into_lru.status == 1);
  CHECK(into_lru.err.find("cannot move into an LRU map") != std::string::npos);
  CHECK(support::reference_walk(lru.m.fd()).empty());
  auto from_queue = cli({"copy", "pinned", queue.path, "pinned", other_queue.path});
  CHECK(from_queue.status == 1);
  CHECK(from_queue.err.find("use copy --drain") != std::string::npos);
  CHECK(support::reference_walk(source.m.fd()).size() == 10);
}

TEST_CASE("copy needs two maps, and --drain belongs to copy alone") {
  CHECK(cli({"copy", "id", "1"}).status == 2);
  CHECK(cli({"copy", "id", "1", "id"}).status == 2);
  CHECK(cli({"copy", "id", "1", "id", "x"}).status == 2);
  CHECK(cli({"dump", "id", "1", "--drain"}).status == 2);
}

TEST_CASE("copy --drain refuses a bloom filter destination: what it takes can never be read back") {
  REQUIRE_KERNEL();
  map queue = support::create(map_type::queue, 0, 4, 16);
  for (std::uint32_t i = 0; i < 5; ++i) REQUIRE(queue.push(std::as_bytes(std::span(&i, 1))));
  pinned_map source(std::move(queue), "move_bloom_src");
  pinned_map bloom(support::create(map_type::bloom_filter, 0, 4, 16), "move_bloom_dst");
  auto r = cli({"copy", "pinned", source.path, "pinned", bloom.path, "--drain"});
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot move into a bloom_filter map") != std::string::npos);
  std::uint32_t value = 0;
  for (std::uint32_t i = 0; i < 5; ++i) {
    REQUIRE(source.m.pop(std::as_writable_bytes(std::span(&value, 1))));
    CHECK(value == i);
  }
}

TEST_CASE(
    "copy refuses a map keyed by descriptors: an inode storage would take the tool's own files as keys") {
  REQUIRE_KERNEL();
  pinned_map source(support::create_spin_lock_map(map_type::hash, 8), "copy_fdkey_src");
  support::fill_spin_lock_map(source.m, 5);  // keys 0 to 4: stdin, stdout, stderr, the two maps
  pinned_map destination(support::create_inode_storage(), "copy_fdkey_dst");
  const auto original = support::reference_walk(source.m.fd());
  for (const char* drain : {"--quiet", "--drain"}) {
    CAPTURE(drain);
    auto r = cli({"copy", "pinned", source.path, "pinned", destination.path, drain});
    CHECK(r.status == 1);
    CHECK(r.err.find("keys are descriptors") != std::string::npos);
    CHECK(support::reference_walk(source.m.fd()) == original);
  }
}

TEST_CASE("copy --drain puts a stack's refused values back in their order: the source pops as before") {
  REQUIRE_KERNEL();
  map stack = support::create(map_type::stack, 0, 4, 16);
  for (std::uint32_t i = 1; i <= 6; ++i) REQUIRE(stack.push(std::as_bytes(std::span(&i, 1))));
  pinned_map source(std::move(stack), "move_stack_src");
  pinned_map destination(support::create(map_type::stack, 0, 4, 2), "move_stack_dst");
  auto r = cli({"copy", "pinned", source.path, "pinned", destination.path, "--drain"});
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("2 entries moved before it, 4 entries put back") != std::string::npos);
  std::uint32_t value = 0;
  for (std::uint32_t expected = 4; expected >= 1; --expected) {
    REQUIRE(source.m.pop(std::as_writable_bytes(std::span(&value, 1))));
    CHECK(value == expected);
  }
  CHECK_FALSE(source.m.pop(std::as_writable_bytes(std::span(&value, 1))));
}

TEST_CASE(
    "copy --drain refuses an LRU source: putting back what the destination refuses evicts other elements") {
  REQUIRE_KERNEL();
  // Full: a put-back element takes a free node, and an LRU map refills its
  // per-CPU free list by evicting when its global one holds few nodes.
  pinned_map source = filled(map_type::lru_hash, 8, 1000, 1000, "move_lru_src");
  pinned_map destination = filled(map_type::hash, 8, 10, 10, "move_lru_dst");  // full: refuses all
  const auto before = support::reference_walk(source.m.fd());
  auto r = cli({"copy", "pinned", source.path, "pinned", destination.path, "--drain", "--batch-size", "50"});
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot move out of an LRU map") != std::string::npos);
  CHECK(support::reference_walk(source.m.fd()) == before);
}

TEST_CASE("copy into an array too short for the keys says a key is past its end, not that it is full") {
  REQUIRE_KERNEL();
  pinned_map source = filled(map_type::hash, 8, 8, 16, "copy_short_src");  // keys 0 to 7
  pinned_map destination = empty(map_type::array, 8, 4, "copy_short_dst");
  const auto original = support::reference_walk(source.m.fd());
  for (const char* drain : {"--quiet", "--drain"}) {
    CAPTURE(std::string(drain));
    auto r = cli({"copy", "pinned", source.path, "pinned", destination.path, drain});
    CHECK(r.status == 1);
    CHECK(r.err.find("a key is past the array's end (max_entries 4)") != std::string::npos);
    CHECK(r.err.find("full") == std::string::npos);
  }
  // Keys below 4 met before the first refused one moved; the rest went back.
  const auto left = support::reference_walk(source.m.fd());
  const auto array = support::reference_walk(destination.m.fd());
  for (const auto& [key, values] : original) {
    const auto in_source = left.find(key);
    const auto in_array = array.find(key);
    CHECK(((in_source != left.end() && in_source->second == values) ||
           (in_array != array.end() && in_array->second == values)));
  }
}
