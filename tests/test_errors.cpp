#include <cerrno>
#include <string>

#include "support.hpp"

using namespace bpfbatch;

TEST_CASE("an error code keeps the kernel's errno as its value") {
  std::error_code ec = make_error(ENOENT);
  CHECK(ec.value() == ENOENT);
  CHECK(&ec.category() == &bpf_category());
  CHECK(ec == std::errc::no_such_file_or_directory);
  CHECK(ec.message() == std::generic_category().message(ENOENT));
}

TEST_CASE("errno 0 makes no error") { CHECK_FALSE(make_error(0)); }

TEST_CASE("the kernel's ENOTSUPP (524) reads as unsupported for the map type") {
  std::error_code ec = make_error(errno_not_supported);
  CHECK(ec.value() == 524);
  CHECK(ec.message() == "operation not supported for this map type");
  CHECK(ec == std::errc::not_supported);
}

TEST_CASE("describe_error names the map, the command and the error") {
  map_info info;
  info.type = map_type::percpu_hash;
  info.id = 42;
  const char name[] = "flows";
  std::copy(std::begin(name), std::end(name), info.name_bytes.begin());
  CHECK(describe_error(info, command::map_lookup_batch, make_error(errno_not_supported)) ==
        "map 'flows' (id 42, percpu_hash): BPF_MAP_LOOKUP_BATCH: operation not supported for this map type");
}

TEST_CASE("a result holds a value or an error, never both") {
  result<int> good = 7;
  REQUIRE(good);
  CHECK(*good == 7);
  CHECK_FALSE(good.error());
  CHECK(good.value_or(3) == 7);

  result<int> bad = make_error(EPERM);
  CHECK_FALSE(bad);
  CHECK(bad.error().value() == EPERM);
  CHECK(bad.value_or(3) == 3);

  // An empty error_code cannot pose as a value.
  result<int> empty_error = std::error_code();
  CHECK_FALSE(empty_error);
  CHECK(empty_error.error());
}

TEST_CASE("a result gives member access through ->") {
  result<std::string> text = std::string("abc");
  REQUIRE(text);
  CHECK(text->size() == 3);
}

TEST_CASE("result<void> is success unless it holds an error") {
  result<void> ok;
  CHECK(ok);
  result<void> failed = make_error(EBADF);
  CHECK_FALSE(failed);
  CHECK(failed.error().value() == EBADF);
}

TEST_CASE("command names are the kernel's") {
  CHECK(command_name(command::map_lookup_batch) == "BPF_MAP_LOOKUP_BATCH");
  CHECK(command_name(command::map_get_next_key) == "BPF_MAP_GET_NEXT_KEY");
  CHECK(command_name(command::obj_get_info_by_fd) == "BPF_OBJ_GET_INFO_BY_FD");
}

TEST_CASE("map type names are bpftool's") {
  CHECK(map_type_name(map_type::percpu_hash) == "percpu_hash");
  CHECK(map_type_name(map_type::lpm_trie) == "lpm_trie");
  CHECK(map_type_name(map_type::devmap_hash) == "devmap_hash");
  CHECK(map_type_name(map_type::arena) == "arena");
  CHECK(map_type_name(static_cast<map_type>(1000)) == "unknown");
}
