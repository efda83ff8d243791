// bpfbatch-demo: the library on a fresh machine, needing no existing map.
// Creates a hash map and a per-CPU hash map, fills them, prints a few
// elements, and times a batched read against a GET_NEXT_KEY walk.
//
//   bpfbatch-demo [--entries N]
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <algorithm>

#include <bpfbatch/bpfbatch.hpp>

namespace {

using clock_type = std::chrono::steady_clock;

bpfbatch::result<bpfbatch::map> make_map(bpfbatch::map_type type, std::uint32_t entries, const char* name) {
  bpfbatch::map_spec spec;
  spec.type = type;
  spec.key_size = sizeof(std::uint32_t);
  spec.value_size = sizeof(std::uint64_t);
  spec.max_entries = entries;
  spec.name = name;
  return bpfbatch::map::create(spec);
}

// Key i holds i * 3 on every CPU, plus the CPU number.
bool fill(const bpfbatch::map& m, std::uint32_t entries) {
  std::vector<std::uint64_t> value(m.info().value_copies);
  for (std::uint32_t key = 0; key < entries; ++key) {
    for (std::uint32_t cpu = 0; cpu < value.size(); ++cpu) value[cpu] = std::uint64_t{key} * 3 + cpu;
    auto done = m.update_element(std::as_bytes(std::span(&key, 1)), std::as_bytes(std::span(value)));
    if (!done) {
      std::fprintf(
          stderr, "bpfbatch-demo: %s\n",
          bpfbatch::describe_error(m.info(), bpfbatch::command::map_update_elem, done.error()).c_str());
      return false;
    }
  }
  return true;
}

// Reads the whole map once; returns the elements read, or -1 on error.
long long read_all(const bpfbatch::map& m, bpfbatch::iteration method, bpfbatch::batch_buffers& buffers) {
  long long elements = 0;
  auto gen = bpfbatch::lookup_batches(m, buffers, {.method = method});
  for (const bpfbatch::batch& b : gen) elements += static_cast<long long>(b.size());
  if (gen.error()) {
    std::fprintf(stderr, "bpfbatch-demo: %s\n",
                 bpfbatch::describe_error(m.info(), gen.failed_command(), gen.error()).c_str());
    return -1;
  }
  return elements;
}

double median_seconds(const bpfbatch::map& m, bpfbatch::iteration method, int repetitions) {
  bpfbatch::batch_buffers buffers;
  std::vector<double> times;
  for (int i = 0; i < repetitions; ++i) {
    auto start = clock_type::now();
    if (read_all(m, method, buffers) < 0) return -1;
    times.push_back(std::chrono::duration<double>(clock_type::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void print_sample(const bpfbatch::map& m) {
  auto gen = bpfbatch::lookup_batches(m, {.batch_size = 4});
  for (const bpfbatch::batch& b : gen) {
    for (std::size_t i = 0; i < b.size(); ++i) {
      std::printf("    key %-6" PRIu32 " value", b.key_as<std::uint32_t>(i).value_or(0));
      for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
        if (b.value_copies() > 1) std::printf(" cpu%" PRIu32 "=", cpu);
        std::printf(" %" PRIu64, b.value_as<std::uint64_t>(i, cpu).value_or(0));
      }
      std::printf("\n");
    }
    break;  // a sample: the generator frees everything on break
  }
}

int run(bpfbatch::map_type type, const char* name, std::uint32_t entries) {
  auto m = make_map(type, entries, name);
  if (!m) {
    std::fprintf(stderr, "bpfbatch-demo: creating a %s map: %s%s\n", bpfbatch::map_type_name(type).data(),
                 m.error().message().c_str(), m.error().value() == EPERM ? " (needs CAP_BPF or root)" : "");
    return 1;
  }
  const auto& info = m->info();
  std::printf("%s map '%s' (id %" PRIu32 "): key %" PRIu32 " bytes, value %" PRIu32 " bytes x %" PRIu32
              " CPU(s), %zu bytes per value in a batch\n",
              bpfbatch::map_type_name(info.type).data(), std::string(info.name()).c_str(), info.id,
              info.key_size, info.value_size, info.value_copies, info.value_bytes());
  if (!fill(*m, entries)) return 1;
  std::printf("  filled with %" PRIu32 " entries; first batch of 4:\n", entries);
  print_sample(*m);

  constexpr int repetitions = 5;
  double batched = median_seconds(*m, bpfbatch::iteration::batch, repetitions);
  double walked = median_seconds(*m, bpfbatch::iteration::key_walk, repetitions);
  if (batched < 0 || walked < 0) return 1;
  std::printf(
      "  full read, median of %d: batches %.2f ms (%.1f M elements/s), GET_NEXT_KEY walk %.2f ms: %.1fx "
      "faster\n",
      repetitions, batched * 1e3, entries / batched / 1e6, walked * 1e3, walked / batched);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint32_t entries = 100'000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--entries") == 0 && i + 1 < argc) {
      char* end = nullptr;
      unsigned long n = std::strtoul(argv[++i], &end, 10);
      if (*end != '\0' || n == 0 || n > 10'000'000) {
        std::fprintf(stderr, "bpfbatch-demo: --entries takes a number from 1 to 10000000\n");
        return 2;
      }
      entries = static_cast<std::uint32_t>(n);
    } else {
      std::fprintf(stderr, "usage: bpfbatch-demo [--entries N]\n");
      return 2;
    }
  }
  if (int status = run(bpfbatch::map_type::hash, "demo_hash", entries)) return status;
  return run(bpfbatch::map_type::percpu_hash, "demo_percpu", entries);
}
