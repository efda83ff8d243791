// The API cannot be made to corrupt memory: temporaries, moved-from objects,
// copies of views, interleaved iterations and sizes that wrap in 32 bits are
// refused or harmless.
#include <linux/bpf.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <set>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "faults.hpp"
#include "guarded.hpp"
#include "sizes.hpp"
#include "support.hpp"

using namespace bpfbatch;

namespace {

template <class M>
concept can_read = requires(M&& m) {
  lookup_batches(std::forward<M>(m));
};
template <class M>
concept can_read_into = requires(M&& m, batch_buffers& b) {
  lookup_batches(std::forward<M>(m), b);
};
template <class M>
concept can_drain = requires(M&& m) {
  lookup_and_delete_batches(std::forward<M>(m));
};
template <class M>
concept can_drain_into = requires(M&& m, batch_buffers& b) {
  lookup_and_delete_batches(std::forward<M>(m), b);
};

// A temporary map would close its descriptor before the first batch: every
// generator entry point refuses it at compile time.
static_assert(can_read<map&> && can_read<const map&> && can_drain<map&> && can_drain<const map&>);
static_assert(!can_read<map> && !can_read<map&&> && !can_read<const map&&>);
static_assert(!can_read_into<map> && !can_drain<map> && !can_drain_into<map>);
static_assert(!can_drain<result<map>&&> && !can_read<result<map>&&>);

// A batch is a view that cannot outlive its data through a copy, and only the
// library makes one (its count is never trusted from a caller).
static_assert(!std::is_copy_constructible_v<batch> && !std::is_copy_assignable_v<batch>);
static_assert(!std::is_move_constructible_v<batch>);
static_assert(!std::is_constructible_v<batch, const map_info&, std::span<const std::byte>,
                                       std::span<const std::byte>, std::size_t>);
static_assert(!std::is_default_constructible_v<batch>);
static_assert(std::is_nothrow_move_constructible_v<owned_batch> &&
              !std::is_copy_constructible_v<owned_batch>);

// An iterator from a temporary generator would point into a destroyed
// coroutine: begin() is refused on rvalues.
template <class G>
concept can_begin = requires(G&& g) {
  std::forward<G>(g).begin();
};
static_assert(can_begin<batch_generator&> && !can_begin<batch_generator>);

map filled_hash(std::uint32_t n, std::uint32_t max_entries = 0) {
  map m = support::create(map_type::hash, 4, 8, max_entries ? max_entries : n);
  support::fill(m, n);
  return m;
}

}  // namespace

TEST_CASE("a generator keeps reading its own map after the map object is closed and its number reused") {
  REQUIRE_KERNEL();
  std::optional<map> first(filled_hash(300));
  const auto first_contents = support::reference_walk(first->fd());
  const int number = first->fd();
  auto gen = lookup_and_delete_batches(*first, {.batch_size = 50});
  first.reset();  // closes the caller's descriptor
  map second = filled_hash(200);
  CHECK(second.fd() == number);  // the kernel reuses the lowest free number
  const auto second_contents = support::reference_walk(second.fd());
  auto got = support::collect(gen);
  CHECK_FALSE(gen.error());
  CHECK(got == first_contents);
  CHECK(support::reference_walk(second.fd()) == second_contents);  // untouched
}

TEST_CASE("a batch_buffers object moved from is empty and can be used again") {
  REQUIRE_KERNEL();
  map m = filled_hash(1000);
  batch_buffers a;
  REQUIRE(a.reserve(m.info(), 512));
  const std::byte* memory = a.keys().data();
  batch_buffers b(std::move(a));
  CHECK(b.keys().data() == memory);
  CHECK(a.keys().empty());  // NOLINT(bugprone-use-after-move): the state is specified
  CHECK(a.values().empty());
  CHECK(a.token().empty());
  CHECK_FALSE(a.borrowed());
  // The next reserve on the moved-from object allocates anew (it read freed
  // memory before).
  auto grown = a.reserve(m.info(), 2048);
  REQUIRE(grown);
  CHECK(*grown == 2048);
  CHECK(a.keys().size() >= 2048 * 4);
  auto again = lookup_batches(m, a);
  CHECK(support::collect(again).size() == 1000);
  batch_buffers c;
  c = std::move(b);
  CHECK(c.keys().data() == memory);
  CHECK(b.keys().empty());  // NOLINT(bugprone-use-after-move)
  auto third = lookup_batches(m, c);
  CHECK(support::collect(third).size() == 1000);
}

TEST_CASE("a second iteration on buffers another one still uses stops with EBUSY and touches nothing") {
  REQUIRE_KERNEL();
  map m = filled_hash(500);
  batch_buffers buffers;
  auto first = lookup_and_delete_batches(m, buffers, {.batch_size = 100});
  auto it = first.begin();
  REQUIRE(it != first.end());
  const std::size_t first_batch = it->size();
  const std::vector<std::byte> keys_in_hand(it->keys().begin(), it->keys().end());
  iteration_stats stats;
  auto second = lookup_batches(m, buffers, {.stats = &stats});
  for (const batch& b : second) (void)b;
  CHECK(second.error().value() == EBUSY);
  CHECK(second.failed_command() == command::none);
  CHECK(stats.syscalls == 0);
  // The first one's batch still shows what it showed.
  CHECK(std::equal(keys_in_hand.begin(), keys_in_hand.end(), it->keys().begin(), it->keys().end()));
  std::size_t total = first_batch;
  for (++it; it != first.end(); ++it) total += it->size();
  CHECK(total == 500);
  // Once the first generator is gone, the buffers are free again.
  auto third = lookup_batches(m, buffers);
  for (const batch& b : third) (void)b;
  CHECK_FALSE(third.error());
}

TEST_CASE(
    "buffers moved under a running drain take the drain with them: it goes on, and nothing else can use "
    "them") {
  REQUIRE_KERNEL();
  map m = filled_hash(500);
  map other = filled_hash(50);
  batch_buffers buffers;
  auto gen = lookup_and_delete_batches(m, buffers, {.batch_size = 100});
  auto it = gen.begin();
  REQUIRE(it != gen.end());
  const batch& in_hand = *it;
  std::set<support::bytes> yielded;
  for (std::size_t i = 0; i < in_hand.size(); ++i)
    yielded.emplace(in_hand.key(i).begin(), in_hand.key(i).end());
  batch_buffers moved(std::move(buffers));
  // The memory and the iteration's hold went together: the batch in hand is
  // intact, and neither a second iteration nor reserve() can touch it.
  CHECK(in_hand.key(0).data() >= moved.keys().data());
  auto second = lookup_batches(other, moved);
  for (const batch& b : second) (void)b;
  CHECK(second.error().value() == EBUSY);
  CHECK(moved.reserve(m.info(), 100'000).error().value() == EBUSY);
  // The moved-from object is free and unrelated to the drain.
  REQUIRE(buffers.reserve(m.info(), 1));  // NOLINT(bugprone-use-after-move): specified
  for (++it; it != gen.end(); ++it)
    for (std::size_t i = 0; i < it->size(); ++i)
      CHECK(yielded.emplace(it->key(i).begin(), it->key(i).end()).second);
  CHECK_FALSE(gen.error());
  CHECK(yielded.size() == 500);
  CHECK(support::reference_walk(m.fd()).empty());
}

TEST_CASE(
    "buffers destroyed or assigned over under a drain stop it with EINVAL before the kernel writes into "
    "them") {
  REQUIRE_KERNEL();
  for (bool assign : {false, true}) {
    INFO((assign ? "assigned over" : "destroyed"));
    map m = filled_hash(10'000);
    const auto before = support::reference_walk(m.fd());
    std::optional<batch_buffers> buffers(std::in_place);
    auto gen = lookup_and_delete_batches(m, *buffers, {.batch_size = 4096});
    auto it = gen.begin();
    REQUIRE(it != gen.end());
    std::set<support::bytes> yielded;
    for (std::size_t i = 0; i < it->size(); ++i) yielded.emplace(it->key(i).begin(), it->key(i).end());
    if (assign) {
      // A fresh small block may come back at the old address: the drain must
      // not take it for its own (it would let the kernel write 4096 elements
      // into room for one).
      *buffers = batch_buffers{};
      REQUIRE(buffers->reserve(m.info(), 1));
    } else {
      buffers.reset();
    }
    for (++it; it != gen.end(); ++it) FAIL("a batch after the buffers were gone");
    CHECK(gen.error().value() == EINVAL);
    CHECK(gen.failed_command() == command::none);
    CHECK(support::reference_walk(m.fd()).size() + yielded.size() == before.size());
  }
}

TEST_CASE("a copy kept with owned_batch holds still while the generator moves on") {
  REQUIRE_KERNEL();
  map m = filled_hash(300);
  auto gen = lookup_batches(m, {.batch_size = 100});
  std::vector<owned_batch> kept;
  std::vector<std::vector<std::byte>> keys_then;
  for (const batch& b : gen) {
    auto copy = owned_batch::copy_of(b);
    REQUIRE(copy);
    keys_then.emplace_back(b.keys().begin(), b.keys().end());
    kept.push_back(std::move(*copy));  // moves keep the bytes where they are
  }
  REQUIRE(kept.size() == keys_then.size());
  std::size_t total = 0;
  for (std::size_t k = 0; k < kept.size(); ++k) {
    const batch& b = kept[k].view();
    CHECK(std::equal(b.keys().begin(), b.keys().end(), keys_then[k].begin(), keys_then[k].end()));
    for (std::size_t i = 0; i < b.size(); ++i) CHECK(b.value_as<std::uint64_t>(i).has_value());
    total += kept[k].size();
  }
  CHECK(total == 300);
  const std::size_t first_size = kept.front().size();  // up to 100: a hash batch can be short
  owned_batch moved = std::move(kept.front());
  CHECK(kept.front().size() == 0);  // NOLINT(bugprone-use-after-move): the state is specified
  CHECK(kept.front().view().key(0).empty());
  CHECK(moved.size() == first_size);
  CHECK(moved.view().size() == first_size);
}

// Whether a sanitizer's allocator serves this build: it aborts rather than
// return null when an address-space limit refuses a block.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitizer_allocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool sanitizer_allocator = true;
#else
constexpr bool sanitizer_allocator = false;
#endif
#else
constexpr bool sanitizer_allocator = false;
#endif

TEST_CASE("an explicit batch size larger than the map is capped at max_entries") {
  REQUIRE_KERNEL();
  map m = filled_hash(1000);
  // 100,000,000 u32/u64 elements would be 1.2 GB of buffers; under a 512 MiB
  // address-space limit that was ENOMEM. A sanitizer's allocator reserves its
  // regions up front and cannot run under such a limit at all (it aborts with
  // "Failed to mmap"): there the size of the buffers alone is checked.
  CHECK(support::in_child([&] {
          struct rlimit limit {
            512ul << 20, 512ul << 20
          };
          if (!sanitizer_allocator && ::setrlimit(RLIMIT_AS, &limit) != 0) return std::string("setrlimit");
          for (std::uint32_t size : {100'000'000u, UINT32_MAX}) {
            batch_buffers buffers;
            auto gen = lookup_batches(m, buffers, {.batch_size = size});
            std::size_t n = 0;
            for (const batch& b : gen) n += b.size();
            if (gen.error()) return "batch size " + std::to_string(size) + ": " + gen.error().message();
            if (n != 1000) return std::string("not every element");
            if (buffers.values().size() > 64 * 1024) return std::string("buffers larger than the map");
          }
          return std::string();
        }) == "");
}

TEST_CASE("buffer sizes that would wrap a 32-bit size_t are ENOMEM, never a small block") {
  // plan() with a 32-bit address space: 3 GiB of keys and 2 GiB of values
  // sum past 2^32 and would wrap to 1 GiB.
  const std::uint64_t four_gib = std::uint64_t{1} << 32;
  auto wrapped = detail::block_layout::plan(8, 3ull << 30, 2ull << 30, four_gib - 1);
  CHECK(wrapped.error().value() == ENOMEM);
  auto fits = detail::block_layout::plan(8, 1ull << 30, 1ull << 30, four_gib - 1);
  REQUIRE(fits);
  CHECK(fits->allocation >= (2ull << 30));
  // Sums at the top of 64 bits do not wrap either.
  CHECK(detail::block_layout::plan(8, UINT64_MAX - 10, 64).error().value() == ENOMEM);
  CHECK(detail::block_layout::plan(UINT64_MAX, 0, 0).error().value() == ENOMEM);

  // reserve() with sizes no real map has: the products pass 64 bits or the
  // address space, and the answer is ENOMEM without an allocation.
  map_info huge;
  huge.type = map_type::percpu_hash;
  huge.key_size = UINT32_MAX;
  huge.value_size = UINT32_MAX;
  huge.value_copies = UINT32_MAX;
  batch_buffers buffers;
  CHECK(buffers.reserve(huge, UINT32_MAX).error().value() == ENOMEM);
  CHECK(buffers.keys().empty());
  huge.type = map_type::hash;
  huge.value_copies = 1;
  CHECK(buffers.reserve(huge, 1u << 31).error().value() == ENOMEM);
  CHECK(huge.value_bytes() == UINT32_MAX);  // 64-bit sizes: no wrap in per_cpu_stride
  map_info per_cpu;
  per_cpu.type = map_type::percpu_array;
  per_cpu.value_size = UINT32_MAX;
  per_cpu.value_copies = 2;
  CHECK(per_cpu.per_cpu_stride() == (std::uint64_t{1} << 32));  // rounded up past 32 bits, not to 0
  CHECK(per_cpu.value_bytes() == (std::uint64_t{1} << 33));
}

TEST_CASE("an mmap length that would wrap a 32-bit size_t is refused, never a short mapping") {
  // 2^29 + 512 slots of 8 bytes: 4 GiB + 4 KiB, which a 32-bit size_t wraps
  // to one page, so a copy of the array would read past the mapping.
  const std::uint64_t wrapping_entries = ((std::uint64_t{1} << 32) + 4096) / 8;
  const std::uint64_t half_32 = (std::uint64_t{1} << 31) - 1;  // SIZE_MAX / 2 with 32 bits
  CHECK(detail::mapped_length(wrapping_entries, 8, 4096, half_32) == 0);
  CHECK(detail::mapped_length(1000, 8, 4096, half_32) == 8192);
  CHECK(detail::mapped_length(UINT64_MAX / 4, 8, 4096, UINT64_MAX) == 0);  // passes 64 bits
  CHECK(detail::mapped_length(1, 8, 0) == 0);
  // This process's own limit: refused where size_t has 32 bits.
  if constexpr (sizeof(std::size_t) == 4)
    CHECK(detail::mapped_length(wrapping_entries, 8, 4096) == 0);
  else
    CHECK(detail::mapped_length(wrapping_entries, 8, 4096) == (std::uint64_t{1} << 32) + 4096);
}

TEST_CASE("a real map whose batch passes a 32-bit address space is ENOMEM, never a small block") {
  REQUIRE_KERNEL();
  if (sizeof(std::size_t) > 4 && sanitizer_allocator) {
    // On 64 bits only an address-space limit refuses these blocks.
    MESSAGE("left out under a sanitizer on 64 bits");
    return;
  }
  // 1 MiB values without preallocation (the kernel allocates an element
  // only when it is written): 4,096 of them need 4 GiB of buffer, which a
  // 32-bit size_t would wrap to 0. The map holds 4,000, because 5.10 refuses
  // (E2BIG) a map whose max_entries * value_size reaches 4 GiB; a batch of
  // all 4,000 is more than a 32-bit process can hold.
  map m = support::create(map_type::hash, 4, 1u << 20, 4000, BPF_F_NO_PREALLOC);
  std::vector<std::byte> value(1u << 20, std::byte{7});
  for (std::uint32_t key = 0; key < 3; ++key)
    REQUIRE(m.update_element(std::as_bytes(std::span(&key, 1)), value));
  CHECK(support::in_child([&] {
          // A 64-bit process gets a 32-bit process's room (less, in fact).
          if constexpr (sizeof(std::size_t) > 4) {
            struct rlimit limit {
              1ul << 30, 1ul << 30
            };
            if (::setrlimit(RLIMIT_AS, &limit) != 0) return std::string("setrlimit");
          }
          batch_buffers buffers;
          for (std::uint32_t elements : {4000u, 4096u, 8192u, UINT32_MAX}) {
            auto reserved = buffers.reserve(m.info(), elements);
            if (reserved || reserved.error().value() != ENOMEM)
              return "reserve(" + std::to_string(elements) + " x 1 MiB): not ENOMEM";
            if (!buffers.values().empty()) return std::string("a block was kept");
          }
          // An iteration asking for a batch of the whole map stops before any call.
          auto gen = lookup_batches(m, buffers, {.batch_size = 4000});
          std::size_t n = 0;
          for (const batch& b : gen) n += b.size();
          if (n != 0 || gen.error().value() != ENOMEM || gen.failed_command() != command::none)
            return "lookup of 4,000 x 1 MiB: " + std::to_string(n) + " elements, " + gen.error().message();
          return std::string();
        }) == "");
}

namespace {

// Pages of which some are made read-only, for borrowed buffers.
struct pages {
  std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::size_t count;
  std::byte* at;
  explicit pages(std::size_t n) : count(n) {
    void* p = ::mmap(nullptr, n * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    at = static_cast<std::byte*>(p);
  }
  ~pages() { ::munmap(at, count * size); }
  void read_only(std::size_t page) { REQUIRE(::mprotect(at + page * size, size, PROT_READ) == 0); }
  std::byte* page(std::size_t i) const { return at + i * size; }
};

}  // namespace

TEST_CASE("an iteration over borrowed memory the kernel cannot write fails with EFAULT before any call") {
  REQUIRE_KERNEL();
  map m = filled_hash(200);
  map mapped = support::create(map_type::array, 4, 8, 100, BPF_F_MMAPABLE);
  const auto before = support::reference_walk(m.fd());
  for (bool drain : {true, false}) {
    for (int read_only_part = 0; read_only_part < 3; ++read_only_part) {
      INFO("drain: ", drain, "; read-only: ",
           read_only_part == 0   ? "keys"
           : read_only_part == 1 ? "values"
                                 : "token");
      pages memory(3);
      std::span<std::byte> keys(memory.page(0), memory.size), values(memory.page(1), memory.size),
          token(memory.page(2), 64);
      memory.read_only(read_only_part);
      auto buffers = batch_buffers::borrow(keys, values, token);
      iteration_stats stats;
      // A lookup of a BPF_F_MMAPABLE array copies into the buffers itself,
      // and any lookup poisons the token itself: a store there would be SIGSEGV.
      auto gen = drain ? lookup_and_delete_batches(m, buffers, {.stats = &stats})
                       : lookup_batches(mapped, buffers, {.stats = &stats});
      for (const batch& b : gen) (void)b;
      CHECK(gen.error().value() == EFAULT);
      CHECK(gen.failed_command() == command::none);
      CHECK(stats.syscalls == 0);
      CHECK(support::reference_walk(m.fd()) == before);
    }
  }
}

TEST_CASE("one read-only page in the middle of borrowed values is caught before a drain deletes anything") {
  REQUIRE_KERNEL();
  map m = filled_hash(4000);
  const auto before = support::reference_walk(m.fd());
  pages memory(12);
  memory.read_only(6);
  auto buffers = batch_buffers::borrow(std::span(memory.page(0), 4 * memory.size),
                                       std::span(memory.page(4), 8 * memory.size - 64),
                                       std::span(memory.page(12) - 64, 64));
  auto gen = lookup_and_delete_batches(m, buffers);
  for (const batch& b : gen) (void)b;
  CHECK(gen.error().value() == EFAULT);
  CHECK(support::reference_walk(m.fd()) == before);
}

TEST_CASE("borrowed memory a grown batch would reach is checked before that call") {
  REQUIRE_KERNEL();
  // batch_size 1 on a hash whose buckets hold several keys: ENOSPC grows the
  // call into memory past the first element, here a read-only page.
  map m = filled_hash(1000, 1000);
  const auto before = support::reference_walk(m.fd());
  pages memory(4);
  memory.read_only(1);
  memory.read_only(3);
  auto buffers =
      batch_buffers::borrow(std::span(memory.page(1) - 4, 4 + memory.size),
                            std::span(memory.page(3) - 8, 8 + memory.size), std::span(memory.page(2), 64));
  std::size_t yielded = 0;
  auto gen = lookup_and_delete_batches(m, buffers, {.batch_size = 1, .method = iteration::batch});
  for (const batch& b : gen) yielded += b.size();
  CHECK(gen.error().value() == EFAULT);
  CHECK(support::reference_walk(m.fd()).size() + yielded == before.size());
}

TEST_CASE("borrowed regions that overlap are EINVAL before any call") {
  REQUIRE_KERNEL();
  map m = filled_hash(100);
  std::vector<std::byte> memory(4096);
  const std::span<std::byte> all(memory);
  for (auto [keys, values, token] :
       {std::tuple{all.first(400), all.subspan(400, 800), all.subspan(390, 16)},   // token in keys
        std::tuple{all.first(800), all.subspan(400, 800), all.subspan(2000, 16)},  // keys and values
        std::tuple{all.first(400), all.subspan(400, 800), all.subspan(1000, 16)}}) {
    auto buffers = batch_buffers::borrow(keys, values, token);
    iteration_stats stats;
    auto gen = lookup_and_delete_batches(m, buffers, {.stats = &stats});
    for (const batch& b : gen) (void)b;
    CHECK(gen.error().value() == EINVAL);
    CHECK(stats.syscalls == 0);
  }
  CHECK(support::reference_walk(m.fd()).size() == 100);
}

TEST_CASE("a drain into writable borrowed memory still works") {
  REQUIRE_KERNEL();
  map m = filled_hash(200);
  std::vector<std::byte> keys(64 * 4), values(64 * 8), token(16);
  auto buffers = batch_buffers::borrow(keys, values, token);
  auto gen = lookup_and_delete_batches(m, buffers);
  CHECK(support::collect(gen).size() == 200);
  CHECK_FALSE(gen.error());
  CHECK(support::reference_walk(m.fd()).empty());
}

TEST_CASE("a second loop over a drain after a break continues: no element is delivered twice") {
  REQUIRE_KERNEL();
  map m = filled_hash(100);
  auto gen = lookup_and_delete_batches(m, {.batch_size = 10});
  std::multiset<std::uint32_t> delivered;
  for (const batch& b : gen) {
    for (std::size_t i = 0; i < b.size(); ++i) delivered.insert(*b.key_as<std::uint32_t>(i));
    break;
  }
  for (const batch& b : gen)
    for (std::size_t i = 0; i < b.size(); ++i) delivered.insert(*b.key_as<std::uint32_t>(i));
  CHECK_FALSE(gen.error());
  CHECK(delivered.size() == 100);
  CHECK(std::set<std::uint32_t>(delivered.begin(), delivered.end()).size() == 100);
  CHECK(support::reference_walk(m.fd()).empty());
}

TEST_CASE("borrowed tokens of exactly the documented size survive an ENOSPC growth: no restart, no repeats") {
  REQUIRE_KERNEL();
  // 64 keys in 64 buckets: some buckets hold several, so batch size 1 grows.
  map m = filled_hash(64, 64);
  const auto before = support::reference_walk(m.fd());
  for (bool drain : {false, true}) {
    INFO("drain: ", drain);
    std::vector<std::byte> keys(64 * 4), values(64 * 8), token(8);
    auto buffers = batch_buffers::borrow(keys, values, token);
    iteration_stats stats;
    const batch_options options{.batch_size = 1, .method = iteration::batch, .stats = &stats};
    auto gen = drain ? lookup_and_delete_batches(m, buffers, options) : lookup_batches(m, buffers, options);
    std::size_t yielded = 0;
    support::contents got;
    for (const batch& b : gen) {
      for (std::size_t i = 0; i < b.size(); ++i) {
        CHECK(got.emplace(support::bytes(b.key(i).begin(), b.key(i).end()), std::vector<support::bytes>{})
                  .second);
        REQUIRE(++yielded <= 64);  // a restart would go on for ever
      }
    }
    CHECK_FALSE(gen.error());
    CHECK(stats.no_space_retries > 0);
    CHECK(got.size() == before.size());
  }
}

TEST_CASE("only the first token_bytes of a larger borrowed token are used and checked") {
  REQUIRE_KERNEL();
  map m = filled_hash(300);
  pages memory(3);
  memory.read_only(2);
  // The token memory runs 8 bytes into a writable page and on into a read-only one.
  auto buffers = batch_buffers::borrow(std::span(memory.page(0), 4 * 64), std::span(memory.page(1), 8 * 64),
                                       std::span(memory.page(2) - 8, 4096));
  auto gen = lookup_and_delete_batches(m, buffers);
  CHECK(support::collect(gen).size() == 300);
  CHECK_FALSE(gen.error());
}
