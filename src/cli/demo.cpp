// demo: creates its own maps (no existing map needed), fills them, and times
// a batched read against a GET_NEXT_KEY walk, and for a BPF_F_MMAPABLE array,
// a read through mmap.
#include <linux/bpf.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include <bpfbatch/bpfbatch.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "output.hpp"

namespace bpfbatch::cli {

namespace {

// A per-CPU map holds value_size * CPUs bytes per entry (in the kernel and
// in our buffers): on a 256-CPU machine 100,000 u64 entries are 200 MiB.
// Its entries are capped so that its values stay within this budget.
constexpr std::uint64_t demo_value_budget = 16 << 20;

double median_read_seconds(const map& m, iteration method, int repetitions, const std::string& subject) {
  batch_buffers buffers;
  std::vector<double> times;
  for (int i = 0; i < repetitions; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto gen = lookup_batches(m, buffers, {.method = method});
    for (const batch& b : gen) (void)b;
    if (gen.error()) fail(subject, gen.error(), &m.info(), gen.failed_command());
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

map create_demo_map(map_type type, std::uint32_t flags, std::string_view name, std::uint32_t entries,
                    const std::string& subject) {
  map_spec spec;
  spec.type = type;
  spec.map_flags = flags;
  spec.key_size = sizeof(std::uint32_t);
  spec.value_size = sizeof(std::uint64_t);
  spec.max_entries = entries;
  spec.name = name;
  auto created = map::create(spec);
  if (!created) fail(subject, created.error(), nullptr, command::map_create);
  return std::move(*created);
}

void describe_map(output& out, const map_info& info, std::uint32_t flags) {
  out.put(map_type_name(info.type)).put((flags & BPF_F_MMAPABLE) != 0 ? " (BPF_F_MMAPABLE)" : "");
  out.put(" map '").put(info.name()).put("' (id ").number(std::uint64_t{info.id}).put("): ");
  out.number(std::uint64_t{info.key_size}).put("-byte keys, ").number(std::uint64_t{info.value_size});
  out.put("-byte values x ").number(std::uint64_t{info.value_copies}).put(" CPU(s) = ");
  out.number(info.value_bytes()).put(" bytes per value in a batch\n");
}

// Key k holds k * 3 + cpu on each CPU.
void fill_and_sample(output& out, const map& m, std::uint32_t entries, const std::string& subject) {
  const map_info& info = m.info();
  std::vector<std::uint32_t> keys(entries);
  std::vector<std::uint64_t> values(std::size_t{entries} * info.value_copies);
  for (std::uint32_t k = 0; k < entries; ++k) {
    keys[k] = k;
    for (std::uint32_t cpu = 0; cpu < info.value_copies; ++cpu)
      values[std::size_t{k} * info.value_copies + cpu] = std::uint64_t{k} * 3 + cpu;
  }
  auto written = update_batch(m, std::as_bytes(std::span(keys)), std::as_bytes(std::span(values)));
  if (!written) fail(subject, written.error, &info, written.failed_command);
  out.put("  filled with ")
      .number(std::uint64_t{written.applied})
      .put(" entries by update_batch; a sample:\n");
  auto sample = lookup_batches(m, {.batch_size = 4});
  for (const batch& b : sample) {
    for (std::size_t i = 0; i < b.size(); ++i) {
      out.put("    key ").number(std::uint64_t{b.key_as<std::uint32_t>(i).value_or(0)}).put("  value");
      for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
        if (b.value_copies() > 1) out.put(" cpu").number(std::uint64_t{cpu}).put('=');
        out.put(' ').number(b.value_as<std::uint64_t>(i, cpu).value_or(0));
      }
      out.put('\n');
    }
    break;  // one batch is a sample; the generator frees everything on break
  }
}

void demo_one(output& out, const arguments& o, map_type type, std::uint32_t flags, std::string_view name) {
  const std::string subject = "demo: map " + std::string(name);
  std::uint32_t entries = o.entries;
  if (has_per_cpu_values(type)) {
    auto cpus = possible_cpus();
    if (!cpus) fail(subject, cpus.error());
    entries = static_cast<std::uint32_t>(std::min<std::uint64_t>(entries, demo_value_budget / (8 * *cpus)));
  }
  const map m = create_demo_map(type, flags, name, std::max<std::uint32_t>(entries, 1), subject);
  describe_map(out, m.info(), flags);
  if (entries < o.entries)
    out.put("  (")
        .number(std::uint64_t{entries})
        .put(" entries: a per-CPU map's values are kept within 16 MiB)\n");
  fill_and_sample(out, m, entries, subject);
  (void)out.flush();

  constexpr int repetitions = 5;
  const double batched = median_read_seconds(m, iteration::batch, repetitions, subject);
  const double walked = median_read_seconds(m, iteration::key_walk, repetitions, subject);
  char line[256];
  std::snprintf(line, sizeof(line),
                "  full read, median of %d: batches %.2f ms (%.1f M entries/s), GET_NEXT_KEY walk %.2f ms: "
                "batches are %.1fx faster\n",
                repetitions, batched * 1e3, entries / batched / 1e6, walked * 1e3, walked / batched);
  out.put(line);
  if ((flags & BPF_F_MMAPABLE) != 0) {
    // What iteration::automatic does with such an array.
    const double mapped = median_read_seconds(m, iteration::automatic, repetitions, subject);
    std::snprintf(line, sizeof(line),
                  "  read through mmap (automatic, for this array): %.2f ms: %.1fx faster than batches\n",
                  mapped * 1e3, batched / mapped);
    out.put(line);
  }
  (void)out.flush();
}

}  // namespace

int run_demo(const arguments& o) {
  output out(1);
  demo_one(out, o, map_type::hash, 0, "demo_hash");
  demo_one(out, o, map_type::percpu_hash, 0, "demo_percpu");
  demo_one(out, o, map_type::array, BPF_F_MMAPABLE, "demo_mmapable");
  return finish(out, "demo");
}

}  // namespace bpfbatch::cli
