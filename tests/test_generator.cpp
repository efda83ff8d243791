#include <iterator>
#include <ranges>
#include <vector>

#include "support.hpp"

using namespace bpfbatch;

static_assert(std::ranges::input_range<generator<int>>);
static_assert(std::input_iterator<generator<int>::iterator>);
static_assert(std::ranges::input_range<batch_generator>);

namespace {

generator<int> count_to(int n, int fail_with) {
  for (int i = 0; i < n; ++i) co_yield i;
  co_return stop_reason{make_error(fail_with), fail_with ? command::map_lookup_batch : command::none};
}

struct destruction_flag {
  bool* destroyed;
  ~destruction_flag() { *destroyed = true; }
};

generator<int> endless(bool* destroyed) {
  destruction_flag flag{destroyed};
  for (int i = 0;; ++i) co_yield i;
}

}  // namespace

TEST_CASE("a generator yields its values in order and ends without error") {
  auto gen = count_to(4, 0);
  std::vector<int> seen;
  for (int v : gen) seen.push_back(v);
  CHECK(seen == std::vector<int>{0, 1, 2, 3});
  CHECK(gen.finished());
  CHECK_FALSE(gen.error());
  CHECK(gen.failed_command() == command::none);
}

TEST_CASE("a generator that stops on an error keeps it after the loop") {
  auto gen = count_to(2, EPERM);
  int seen = 0;
  for (int v : gen) seen += v + 1;
  CHECK(seen == 3);
  CHECK(gen.error().value() == EPERM);
  CHECK(gen.failed_command() == command::map_lookup_batch);
}

TEST_CASE("a generator reports no error while it has not finished") {
  auto gen = count_to(3, EPERM);
  auto it = gen.begin();
  REQUIRE(it != gen.end());
  CHECK(*it == 0);
  CHECK_FALSE(gen.finished());
  CHECK_FALSE(gen.error());
}

TEST_CASE("an early break destroys the coroutine and what it owns") {
  bool destroyed = false;
  {
    auto gen = endless(&destroyed);
    for (int v : gen)
      if (v == 5) break;
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
  CHECK(*it == 0);
  auto b = std::move(a);
  CHECK(a.finished());  // NOLINT(bugprone-use-after-move): the state is specified
  std::vector<int> rest;
  for (auto it2 = b.begin(); it2 != b.end(); ++it2) rest.push_back(*it2);
  CHECK(rest == std::vector<int>{0, 1, 2});
}
