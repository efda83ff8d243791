// supports_batch and drain_method_of: what the kernel offers for a map, asked
// without touching an element.
#include <linux/bpf.h>

#include "support.hpp"

using namespace bpfbatch;

TEST_CASE("supports_batch is true for every batch command of a hash map and touches no element") {
  REQUIRE_KERNEL();
  map hash = support::create(map_type::hash, 4, 8, 16);
  support::fill(hash, 5);
  const bool kernel_has_batches = support::kernel_has_batch(map_type::hash);
  for (command c : {command::map_lookup_batch, command::map_lookup_and_delete_batch,
                    command::map_update_batch, command::map_delete_batch}) {
    INFO(command_name(c));
    CHECK(static_cast<bool>(supports_batch(hash, c)) == kernel_has_batches);
  }
  CHECK(support::reference_walk(hash.fd()).size() == 5);
}

TEST_CASE("if (supports_batch(...)) is false where the map type lacks the command, with errno 524") {
  REQUIRE_KERNEL();
  map array = support::create(map_type::array, 4, 8, 4);
  if (support::kernel_has_batch(map_type::array)) CHECK(supports_batch(array, command::map_lookup_batch));
  const auto deletes = supports_batch(array, command::map_delete_batch);
  CHECK_FALSE(deletes);
  CHECK((deletes.error().value() == errno_not_supported || deletes.error().value() == EINVAL));

  map devmap = support::create(map_type::devmap_hash, 4, 4, 4);
  if (supports_batch(devmap, command::map_lookup_batch)) FAIL("a devmap_hash has no lookup batch");
}

TEST_CASE("supports_batch of a command that is not a batch command is EINVAL without a call") {
  REQUIRE_KERNEL();
  map hash = support::create(map_type::hash, 4, 8, 4);
  CHECK(supports_batch(hash, command::map_lookup_elem).error().value() == EINVAL);
}

TEST_CASE("supports_batch through a read-only descriptor cannot tell the writing commands: EPERM") {
  REQUIRE_KERNEL();
  map hash = support::create(map_type::hash, 4, 8, 4);
  auto read_only = map::open_id(hash.info().id, {access::read_only});
  REQUIRE(read_only);
  CHECK(static_cast<bool>(supports_batch(*read_only, command::map_lookup_batch)) ==
        support::kernel_has_batch(map_type::hash));
  CHECK(supports_batch(*read_only, command::map_update_batch).error().value() == EPERM);
}

TEST_CASE("drain_method_of names how each map type is drained") {
  REQUIRE_KERNEL();
  const bool hash_batches = support::kernel_has_batch(map_type::hash, command::map_lookup_and_delete_batch);
  map hash = support::create(map_type::hash, 4, 8, 4);
  CHECK(*drain_method_of(hash) ==
        (hash_batches ? drain_method::batch_command : drain_method::lookup_then_delete));
  map lpm = support::create(map_type::lpm_trie, 8, 8, 4, BPF_F_NO_PREALLOC);
  CHECK(*drain_method_of(lpm) == drain_method::lookup_then_delete);
  map queue = support::create(map_type::queue, 0, 8, 4);
  CHECK(*drain_method_of(queue) == drain_method::pop);
  map array = support::create(map_type::array, 4, 8, 4);
  CHECK(*drain_method_of(array) == drain_method::impossible);
  if (support::kernel_has_map_type(map_type::bloom_filter)) {  // 5.16 on
    map bloom = support::create(map_type::bloom_filter, 0, 8, 4);
    CHECK(*drain_method_of(bloom) == drain_method::impossible);
  }
}

TEST_CASE("drain_method_of through a read-only descriptor still answers for the hash family") {
  REQUIRE_KERNEL();
  const bool hash_batches = support::kernel_has_batch(map_type::hash, command::map_lookup_and_delete_batch);
  map hash = support::create(map_type::percpu_hash, 4, 8, 4);
  auto read_only = map::open_id(hash.info().id, {access::read_only});
  REQUIRE(read_only);
  CHECK(*drain_method_of(*read_only) ==
        (hash_batches ? drain_method::batch_command : drain_method::lookup_then_delete));
}
