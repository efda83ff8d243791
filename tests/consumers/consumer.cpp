// A program that uses an installed bpfbatch the way a newcomer's would: it
// creates a hash map, writes three elements and reads them back in batches.
// .ci/run builds it with CMake and with pkg-config against a fresh prefix.
#include <bpfbatch/bpfbatch.hpp>

#include <array>
#include <cstdint>
#include <cstdio>

int main() {
  bpfbatch::map_spec spec;
  spec.type = bpfbatch::map_type::hash;
  spec.key_size = 4;
  spec.value_size = 8;
  spec.max_entries = 8;
  auto m = bpfbatch::map::create(spec);
  if (!m) {
    std::fprintf(stderr, "consumer: create: %s\n", m.error().message().c_str());
    return 1;
  }
  const std::array<std::uint32_t, 3> keys{1, 2, 3};
  const std::array<std::uint64_t, 3> values{10, 20, 30};
  if (auto written = bpfbatch::update_batch(*m, keys, values); !written) {
    std::fprintf(stderr, "consumer: update: %s\n", written.error.message().c_str());
    return 1;
  }
  std::uint64_t sum = 0;
  auto batches = bpfbatch::lookup_batches(*m);
  for (const bpfbatch::batch& b : batches)
    for (std::size_t i = 0; i < b.size(); ++i) sum += b.value_as<std::uint64_t>(i).value_or(0);
  if (batches.error() || sum != 60) {
    std::fprintf(stderr, "consumer: read back %llu, error '%s'\n", static_cast<unsigned long long>(sum),
                 batches.error().message().c_str());
    return 1;
  }
  std::puts("consumer: 3 elements written and read back");
  return 0;
}
