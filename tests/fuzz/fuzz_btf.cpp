// libFuzzer target: btf::parse on any bytes, then every query on every type
// of what it accepts. Nothing may crash, read outside the input, recurse
// without bound or hang, however the records refer to each other (cycles
// through typedefs, pointers, arrays and members included).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include <bpfbatch/btf.hpp>

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

// Reads the field out of a zeroed value of its size (capped), with the
// widths an agent would use: the read must refuse or stay inside the span.
void read_field(const bpfbatch::btf_field& f) {
  static std::byte value[64];
  const std::size_t size =
      f.byte_size < sizeof(value) ? static_cast<std::size_t>(f.byte_size) : sizeof(value);
  std::span<const std::byte> bytes(value, size);
  (void)f.read<std::uint8_t>(bytes);
  (void)f.read<std::int16_t>(bytes);
  (void)f.read<std::uint32_t>(bytes);
  (void)f.read<std::int64_t>(bytes);
}

void query(const bpfbatch::btf& types, std::uint32_t id) {
  (void)types.resolve(id);
  (void)types.size_of(id);
  check(types.name_of(id).size() < 64 * 1024);
  std::string first_member;
  if (auto resolved = types.resolve(id)) {
    if (const bpfbatch::btf_type* t = types.type(*resolved); t && !t->members.empty())
      first_member = std::string(t->members.front().name);
  }
  for (const std::string& path :
       {std::string(), std::string("a"), std::string("[0]"), std::string("[1].a"), first_member,
        first_member + "[0]", first_member + ".x", first_member + "[3].y"}) {
    if (auto f = types.field(id, path)) read_field(*f);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> blob(reinterpret_cast<const std::byte*>(data), size);
  std::string_view reason;
  auto types = bpfbatch::btf::parse(blob, &reason);
  if (!types) {
    check(!reason.empty());
    return 0;
  }
  check(types->raw().size() == size && (size == 0 || std::memcmp(types->raw().data(), data, size) == 0));
  const std::uint32_t count = types->type_count();
  for (std::uint32_t id = 0; id <= count + 1; ++id) {
    check((types->type(id) != nullptr) == (id != 0 && id <= count));
    query(*types, id);
  }
  return 0;
}
