#include <cerrno>

#include "support.hpp"

using namespace bpfbatch;

TEST_CASE("a CPU list counts every CPU it names") {
  CHECK(*parse_cpu_list("0") == 1);
  CHECK(*parse_cpu_list("0\n") == 1);
  CHECK(*parse_cpu_list("0-1\n") == 2);
  CHECK(*parse_cpu_list("0-3,8-11\n") == 8);
  CHECK(*parse_cpu_list("0,2,4-5") == 4);
  CHECK(*parse_cpu_list("0-4095") == 4096);
}

TEST_CASE("a malformed CPU list is EINVAL") {
  for (const char* text : {"", "\n", "-1", "1-", "3-1", "0,,1", "0,", "a", "0-3x", " 0", "0 ", "0\n\n"}) {
    INFO("text: '", text, "'");
    auto count = parse_cpu_list(text);
    CHECK_FALSE(count);
    CHECK(count.error().value() == EINVAL);
  }
}

TEST_CASE("a CPU number too large for 32 bits is rejected") {
  CHECK_FALSE(parse_cpu_list("0-99999999999"));
  CHECK_FALSE(parse_cpu_list("0-4294967295,0-4294967295"));
}

TEST_CASE("possible_cpus agrees with glibc's count of configured CPUs") {
  auto count = possible_cpus();
  REQUIRE(count);
  CHECK(*count == support::libc_possible_cpus());
  CHECK(*possible_cpus() == *count);  // cached, same answer
}

TEST_CASE("an error reading the CPU list names the file and keeps its errno") {
  const std::error_code error(ENOENT, possible_cpus_category());
  CHECK(error.message() == "/sys/devices/system/cpu/possible: No such file or directory");
  CHECK(error == std::errc::no_such_file_or_directory);
  CHECK(error.value() == ENOENT);
  CHECK(error != make_error(ENOENT));  // not to be mistaken for a missing map
}
