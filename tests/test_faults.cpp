// Every fault the kernel can return, injected with seccomp in a forked child:
// fallbacks where batch commands are missing, bounded retries, and errors
// that stop an iteration without losing or repeating an element.
#include <linux/bpf.h>

#include <cerrno>
#include <set>
#include <sstream>

#include "faults.hpp"
#include "support.hpp"

using namespace bpfbatch;

namespace {

constexpr int batch_commands[] = {BPF_MAP_LOOKUP_BATCH, BPF_MAP_LOOKUP_AND_DELETE_BATCH, BPF_MAP_UPDATE_BATCH,
                                  BPF_MAP_DELETE_BATCH};
int faults_tried = 0;

// A small "expect" for the child, which cannot use doctest's assertions.
struct expectations {
  std::ostringstream failures;
  void check(bool ok, const std::string& what) {
    if (!ok) failures << what << "; ";
  }
  std::string report() const { return failures.str(); }
};

std::string name_of(int err) { return std::to_string(err) + " (" + make_error(err).message() + ")"; }

map filled(map_type type, std::uint32_t n, std::uint32_t value_size = 8) {
  const std::uint32_t flags = type == map_type::lpm_trie ? BPF_F_NO_PREALLOC : 0;
  // Room to spare: an LRU map filled to max_entries evicts while it is
  // refilled, and a full LPM trie refused even in-place updates with ENOSPC
  // before a late-2024 fix (5.10 still does).
  const bool spare =
      type == map_type::lru_hash || type == map_type::lru_percpu_hash || type == map_type::lpm_trie;
  map m =
      support::create(type, type == map_type::lpm_trie ? 8 : 4, value_size, spare ? 2 * n + 256 : n, flags);
  support::fill(m, n);
  return m;
}

// A kernel without batch commands (EINVAL, before 5.6) or a map type without
// them (524): automatic falls back and gives the same results; batch says so.
std::string missing_batch_commands(map_type type, int error) {
  map m = filled(type, 500);
  const auto before = support::reference_walk(m.fd());
  return support::in_child([&] {
    expectations e;
    e.check(support::inject_bpf_error(
                {batch_commands[0], batch_commands[1], batch_commands[2], batch_commands[3]}, error),
            "seccomp filter");
    iteration_stats stats;
    auto gen = lookup_batches(m, {.batch_size = 64, .stats = &stats});
    auto got = support::collect(gen);
    e.check(!gen.error(), "automatic lookup failed: " + gen.error().message());
    e.check(stats.walked, "automatic lookup did not walk");
    e.check(got == before, "automatic lookup read other contents");

    auto strict = lookup_batches(m, {.method = iteration::batch});
    for (const batch& b : strict) (void)b;
    e.check(strict.error().value() == error, "iteration::batch gave " + name_of(strict.error().value()));
    e.check(strict.failed_command() == command::map_lookup_batch, "iteration::batch named another command");

    const bool deletable = type != map_type::array && type != map_type::percpu_array;
    if (deletable) {
      auto drained = lookup_and_delete_batches(m, {.batch_size = 64});
      auto drained_contents = support::collect(drained);
      e.check(!drained.error(), "automatic drain failed: " + drained.error().message());
      e.check(drained_contents == before, "the drain returned other contents");
      e.check(support::reference_walk(m.fd()).empty(), "the drain left elements");
    }
    // Writes fall back to the element commands.
    std::vector<std::byte> keys, values;
    for (const auto& [k, v] : before) {
      keys.insert(keys.end(), k.begin(), k.end());
      for (std::uint32_t cpu = 0; cpu < v.size(); ++cpu) {
        std::vector<std::byte> slot(m.info().per_cpu_stride());
        std::copy(v[cpu].begin(), v[cpu].end(), slot.begin());
        values.insert(values.end(), slot.begin(), slot.end());
      }
    }
    auto written = update_batch(m, keys, values);
    e.check(written && written.applied == before.size(), "update fallback: " + written.error.message());
    e.check(support::reference_walk(m.fd()) == before, "update fallback wrote other contents");
    if (deletable) {
      auto deleted = delete_batch(m, keys);
      e.check(deleted && deleted.applied == before.size(), "delete fallback: " + deleted.error.message());
      e.check(support::reference_walk(m.fd()).empty(), "delete fallback left elements");
    }
    return e.report();
  });
}

// An error injected after the first batch: for passing errors, bounded
// retries and then the error; for others, the error at once. Either way the
// first batch is not yielded again and nothing more is yielded.
std::string error_mid_iteration(bool drain, int error, bool passing) {
  map m = filled(map_type::hash, 2000);
  const auto before = support::reference_walk(m.fd());
  return support::in_child([&] {
    expectations e;
    iteration_stats stats;
    const batch_options options{.batch_size = 100, .stats = &stats};
    auto gen = drain ? lookup_and_delete_batches(m, options) : lookup_batches(m, options);
    std::set<std::vector<std::byte>> seen;
    std::size_t yielded = 0;
    auto it = gen.begin();
    e.check(it != gen.end(), "no first batch");
    for (std::size_t i = 0; i < it->size(); ++i) seen.emplace(it->key(i).begin(), it->key(i).end());
    yielded += it->size();
    e.check(
        support::inject_bpf_error({drain ? BPF_MAP_LOOKUP_AND_DELETE_BATCH : BPF_MAP_LOOKUP_BATCH}, error),
        "seccomp filter");
    for (++it; it != gen.end(); ++it) yielded += it->size();
    e.check(yielded == seen.size(), "elements were yielded again after the error");
    e.check(gen.error().value() == error, "error() holds " + name_of(gen.error().value()));
    e.check(
        gen.failed_command() == (drain ? command::map_lookup_and_delete_batch : command::map_lookup_batch),
        "failed_command names another command");
    e.check(stats.busy_retries == (passing ? 16u : 0u),
            "busy retries: " + std::to_string(stats.busy_retries));
    e.check(!stats.walked, "an error mid-iteration made it walk");
    if (drain) {
      // Nothing lost: what was yielded is gone, everything else is still there.
      auto after = support::reference_walk(m.fd());
      e.check(after.size() + seen.size() == before.size(), "the drain lost elements");
      for (const auto& key : seen) e.check(after.count(key) == 0, "a yielded element is still in the map");
    }
    return e.report();
  });
}

}  // namespace

TEST_CASE("without batch commands (a kernel before 5.6: EINVAL) automatic falls back with the same results") {
  REQUIRE_KERNEL();
  for (map_type type : {map_type::hash, map_type::percpu_hash, map_type::array, map_type::lpm_trie}) {
    INFO(map_type_name(type));
    CHECK(missing_batch_commands(type, EINVAL) == "");
    ++faults_tried;
  }
}

TEST_CASE("batch commands answering 524 make automatic fall back with the same results") {
  REQUIRE_KERNEL();
  for (map_type type : {map_type::hash, map_type::lru_percpu_hash, map_type::percpu_array}) {
    INFO(map_type_name(type));
    CHECK(missing_batch_commands(type, errno_not_supported) == "");
    ++faults_tried;
  }
}

TEST_CASE(
    "EINTR, EBUSY, EDEADLK and ETIMEDOUT mid-iteration are retried a bounded number of times, then "
    "reported") {
  REQUIRE_KERNEL();
  // EDEADLK and ETIMEDOUT: bucket-lock contention since 6.15 (rqspinlock).
  for (bool drain : {false, true}) {
    for (int error : {EINTR, EBUSY, EDEADLK, ETIMEDOUT}) {
      INFO((drain ? "drain " : "lookup "), name_of(error));
      CHECK(error_mid_iteration(drain, error, true) == "");
      ++faults_tried;
    }
  }
}

TEST_CASE("ENOMEM, EFAULT and EPERM mid-iteration stop it with the error, repeating and losing nothing") {
  REQUIRE_KERNEL();
  for (bool drain : {false, true}) {
    for (int error : {ENOMEM, EFAULT, EPERM}) {
      INFO((drain ? "drain " : "lookup "), name_of(error));
      CHECK(error_mid_iteration(drain, error, false) == "");
      ++faults_tried;
    }
  }
}

TEST_CASE("a map cannot be opened when BPF_OBJ_GET_INFO_BY_FD fails, and says why") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 4);
  for (int error : {EPERM, ENOMEM, EINVAL}) {
    INFO(name_of(error));
    CHECK(support::in_child([&] {
            expectations e;
            e.check(support::inject_bpf_error({BPF_OBJ_GET_INFO_BY_FD}, error), "seccomp filter");
            auto copy = map::from_fd(m.fd());
            e.check(!copy && copy.error().value() == error, "from_fd gave " + name_of(copy.error().value()));
            auto by_id = map::open_id(m.info().id);
            e.check(!by_id && by_id.error().value() == error,
                    "open_id gave " + name_of(by_id.error().value()));
            return e.report();
          }) == "");
    ++faults_tried;
  }
  MESSAGE("fault-injection scenarios run: ", faults_tried);
}

TEST_CASE("a drain walk whose lookup fails names BPF_MAP_LOOKUP_ELEM, and loses nothing") {
  REQUIRE_KERNEL();
  map m = filled(map_type::hash, 300);
  const auto before = support::reference_walk(m.fd());
  CHECK(support::in_child([&] {
          expectations e;
          // LOOKUP_AND_DELETE_ELEM missing (as before 5.14): the walk uses a
          // lookup and a delete; then every lookup fails.
          e.check(support::inject_bpf_error({BPF_MAP_LOOKUP_AND_DELETE_ELEM}, errno_not_supported),
                  "filter 1");
          e.check(support::inject_bpf_error({BPF_MAP_LOOKUP_ELEM}, ENOMEM), "filter 2");
          auto gen = lookup_and_delete_batches(m, {.method = iteration::key_walk});
          auto got = support::collect(gen);
          e.check(got.empty(), "elements were yielded");
          e.check(gen.error().value() == ENOMEM, "error() holds " + name_of(gen.error().value()));
          e.check(gen.failed_command() == command::map_lookup_elem,
                  "failed_command is " + std::string(command_name(gen.failed_command())));
          return e.report();
        }) == "");
  // Read back here: in the child every lookup fails.
  CHECK(support::reference_walk(m.fd()) == before);
}

TEST_CASE("delete_batch's element fallback never passes BPF_F_LOCK to BPF_MAP_DELETE_ELEM") {
  REQUIRE_KERNEL();
  map m = support::create_spin_lock_map(map_type::hash, 64);
  const auto keys = support::fill_spin_lock_map(m, 40);
  CHECK(support::in_child([&] {
          expectations e;
          // No delete batch here (as for a map type without one): the
          // element commands take over, with the same flags minus BPF_F_LOCK.
          e.check(support::inject_bpf_error({BPF_MAP_DELETE_BATCH}, errno_not_supported), "seccomp filter");
          auto deleted = delete_batch(m, keys, {.elem_flags = BPF_F_LOCK});
          e.check(deleted && deleted.applied == 40, "delete fallback: " + deleted.error.message() +
                                                        " after " + std::to_string(deleted.applied));
          return e.report();
        }) == "");
  CHECK(support::reference_walk(m.fd()).empty());
}
