// batch_generator: the coroutine range every iteration returns. These bodies
// use the library's internal promise, as the library's own iteration does.
#include <array>
#include <cstring>
#include <iterator>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "batch_generator_promise.hpp"
#include "support.hpp"

using namespace bpfbatch;

static_assert(std::ranges::input_range<batch_generator>);
static_assert(std::input_iterator<batch_generator::iterator>);
static_assert(std::is_same_v<std::ranges::range_reference_t<batch_generator>, const batch&>);
static_assert(!std::is_copy_constructible_v<batch_generator>);

namespace {

map_info u32_info() {
  map_info info;
  info.type = map_type::hash;
  info.key_size = 4;
  info.value_size = 4;
  return info;
}

// Yields batches of one element whose key is 0, 1, ..., n - 1.
batch_generator count_to(int n, int fail_with) {
  const map_info info = u32_info();
  std::array<std::byte, 4> key{};
  std::array<std::byte, 4> value{};
  for (int i = 0; i < n; ++i) {
    std::memcpy(key.data(), &i, 4);
    const batch b = detail::batch_access::make(info, key, value, 1);
    co_yield b;
  }
  co_return detail::stop_reason{make_error(fail_with), fail_with ? command::map_lookup_batch : command::none};
}

struct destruction_flag {
  bool* destroyed;
  ~destruction_flag() { *destroyed = true; }
};

batch_generator endless(bool* destroyed) {
  destruction_flag flag{destroyed};
  const map_info info = u32_info();
  std::array<std::byte, 4> key{};
  for (int i = 0;; ++i) {
    std::memcpy(key.data(), &i, 4);
    const batch b = detail::batch_access::make(info, key, key, 1);
    co_yield b;
  }
}

int key_of(const batch& b) { return static_cast<int>(b.key_as<std::uint32_t>(0).value_or(~0u)); }

}  // namespace

TEST_CASE("a generator yields its batches in order and ends without error") {
  auto gen = count_to(4, 0);
  std::vector<int> seen;
  for (const batch& b : gen) seen.push_back(key_of(b));
  CHECK(seen == std::vector<int>{0, 1, 2, 3});
  CHECK(gen.finished());
  CHECK_FALSE(gen.error());
  CHECK(gen.failed_command() == command::none);
}

TEST_CASE("a generator that stops on an error keeps it after the loop") {
  auto gen = count_to(2, EPERM);
  int seen = 0;
  for (const batch& b : gen) seen += key_of(b) + 1;
  CHECK(seen == 3);
  CHECK(gen.error().value() == EPERM);
  CHECK(gen.failed_command() == command::map_lookup_batch);
}

TEST_CASE("a generator reports no error while it has not finished") {
  auto gen = count_to(3, EPERM);
  auto it = gen.begin();
  REQUIRE(it != gen.end());
  CHECK(key_of(*it) == 0);
  CHECK_FALSE(gen.finished());
  CHECK_FALSE(gen.error());
}

TEST_CASE("a second loop after a break continues after the batch already yielded") {
  auto gen = count_to(5, 0);
  std::vector<int> seen;
  for (const batch& b : gen) {
    seen.push_back(key_of(b));
    if (seen.size() == 2) break;
  }
  for (const batch& b : gen) seen.push_back(key_of(b));
  CHECK(seen == std::vector<int>{0, 1, 2, 3, 4});
  for (const batch& b : gen) seen.push_back(key_of(b));  // a finished generator yields nothing
  CHECK(seen.size() == 5);
}

TEST_CASE("an early break destroys the coroutine and what it owns") {
  bool destroyed = false;
  {
    auto gen = endless(&destroyed);
    for (const batch& b : gen)
      if (key_of(b) == 5) break;
    CHECK_FALSE(destroyed);
  }
  CHECK(destroyed);
}

TEST_CASE("a generator that is never started is destroyed cleanly") {
  bool destroyed = false;
  { auto gen = endless(&destroyed); }
  // The body never ran, so its local never existed.
  CHECK_FALSE(destroyed);
}

TEST_CASE("a moved-from generator is empty and the moved-to one continues") {
  auto a = count_to(3, 0);
  auto it = a.begin();
  CHECK(key_of(*it) == 0);
  auto b = std::move(a);
  CHECK(a.finished());  // NOLINT(bugprone-use-after-move): the state is specified
  CHECK_FALSE(a.error());
  CHECK(a.begin() == a.end());
  std::vector<int> rest;
  for (const batch& x : b) rest.push_back(key_of(x));
  CHECK(rest == std::vector<int>{1, 2});
}

#if defined(__cpp_exceptions)
namespace {
batch_generator throws_after_one() {
  const map_info info = u32_info();
  std::array<std::byte, 4> key{};
  const batch b = detail::batch_access::make(info, key, key, 1);
  co_yield b;
  throw std::runtime_error("a body that throws");
}
}  // namespace

TEST_CASE("a body that throws ends the iteration with an error, never as complete") {
  auto gen = throws_after_one();
  int seen = 0;
  for (const batch& b : gen) seen += static_cast<int>(b.size());
  CHECK(seen == 1);
  CHECK(gen.finished());
  CHECK(gen.error().value() == ENOTRECOVERABLE);
}
#endif
