// bpfbatch-bench: how fast bpfbatch reads and drains maps, against the
// kernel's own floor (a raw syscall loop with fixed buffers), libbpf, and the
// GET_NEXT_KEY walk. Methods are interleaved, rotated each repetition, and
// compared by their medians measured in the same run: these machines are
// shared and one sample can be 20 to 30% off.
//
//   bpfbatch-bench [--type T[,T...]] [--entries N[,N...]] [--reps R]
//                  [--batch-sizes B[,B...]] [--key-size K] [--value-size V]
//                  [--no-walk] [--no-drain] [--no-sparse] [--no-tools] [--quick] [--json]
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <bpfbatch/bpfbatch.hpp>

#include "../bpf/flow_record.hpp"

#if defined(BPFBATCH_BENCH_LIBBPF)
#include <bpf/bpf.h>
#endif

// ---- Allocation counting: every operator new and every malloc, once each. ----

namespace {
std::atomic<std::uint64_t> heap_allocations{0};
}

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__has_feature)
#define BPFBATCH_COUNT_MALLOC 1
#elif defined(__GLIBC__) && defined(__has_feature)
#if !__has_feature(address_sanitizer)
#define BPFBATCH_COUNT_MALLOC 1
#endif
#endif

#if defined(BPFBATCH_COUNT_MALLOC)
// glibc lets a program replace malloc; these forward to its own allocator.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void __libc_free(void*);
void* malloc(std::size_t size) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, size);
}
void free(void* p) { __libc_free(p); }
}
#endif

namespace {
// The allocator operator new uses: glibc's own where malloc is counted, so
// that one allocation counts once.
void* raw_allocate(std::size_t size) noexcept {
#if defined(BPFBATCH_COUNT_MALLOC)
  return __libc_malloc(size ? size : 1);
#else
  return std::malloc(size ? size : 1);
#endif
}
}  // namespace

void* operator new(std::size_t size) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = raw_allocate(size)) return p;
#if defined(__cpp_exceptions)
  throw std::bad_alloc();
#else
  std::abort();  // built with -fno-exceptions (CI's optimized builds)
#endif
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return raw_allocate(size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return ::operator new(size, tag);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace bpfbatch;
using clock_type = std::chrono::steady_clock;

// ---- The kernel's floor: a raw BPF_MAP_LOOKUP_BATCH loop, fixed buffers. ----

// Memory that starts on a cache line, as the library's own buffers do: the
// kernel's per-element copy_to_user ran three times slower into a misaligned
// destination on this project's machine (4 KiB per-CPU values), and the
// floor must be the kernel's best.
class aligned_bytes {
 public:
  void resize(std::size_t size) {
    storage_.resize(size + 63);
    const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
    start_ = storage_.data() + ((address + 63) / 64 * 64 - address);
  }
  std::byte* data() { return start_; }

 private:
  std::vector<std::byte> storage_;
  std::byte* start_ = nullptr;
};

struct raw_buffers {
  aligned_bytes keys, values;
  alignas(64) std::byte tokens[2][512];
};

// Reads the whole map with one command in calls of `batch` elements;
// returns elements read, adds its syscalls.
std::uint64_t raw_batch_loop(int fd, int cmd, std::uint32_t batch, raw_buffers& b, std::uint64_t& syscalls) {
  std::uint64_t total = 0;
  bool first = true;
  int in = 0;
  while (true) {
    union bpf_attr attr;
    std::memset(&attr, 0, offsetof(union bpf_attr, batch) + sizeof(attr.batch));
    attr.batch.in_batch = first ? 0 : reinterpret_cast<std::uintptr_t>(b.tokens[in]);
    attr.batch.out_batch = reinterpret_cast<std::uintptr_t>(b.tokens[1 - in]);
    attr.batch.keys = reinterpret_cast<std::uintptr_t>(b.keys.data());
    attr.batch.values = reinterpret_cast<std::uintptr_t>(b.values.data());
    attr.batch.count = batch;
    attr.batch.map_fd = static_cast<std::uint32_t>(fd);
    long r = ::syscall(__NR_bpf, cmd, &attr, offsetof(union bpf_attr, batch) + sizeof(attr.batch));
    ++syscalls;
    int err = r < 0 ? errno : 0;
    total += attr.batch.count;
    if (err == ENOENT) return total;
    if (err != 0) {
      std::fprintf(stderr, "bpfbatch-bench: raw batch loop: %s\n", std::strerror(err));
      std::exit(1);
    }
    first = false;
    in = 1 - in;
  }
}

// The floor for an array made with BPF_F_MMAPABLE: map it read-only, write
// the indexes as keys and copy the values out in batches of `batch`, unmap.
// No bpf(2) call at all (array_map_mmap maps the values, each in a
// round_up(value_size, 8) slot).
std::uint64_t raw_mmap_loop(const map& m, std::uint32_t batch, raw_buffers& b) {
  const map_info& info = m.info();
  const std::size_t slot = (info.value_size + 7u) & ~7u;
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t length = (std::size_t{info.max_entries} * slot + page - 1) / page * page;
  void* mapped = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, m.fd(), 0);
  if (mapped == MAP_FAILED) {
    std::fprintf(stderr, "bpfbatch-bench: mmap: %s\n", std::strerror(errno));
    std::exit(1);
  }
  const auto* base = static_cast<const std::byte*>(mapped);
  std::uint64_t total = 0;
  for (std::uint32_t start = 0; start < info.max_entries; start += batch) {
    const std::uint32_t n = std::min(batch, info.max_entries - start);
    for (std::uint32_t k = 0; k < n; ++k) {
      const std::uint32_t index = start + k;
      std::memcpy(b.keys.data() + std::size_t{k} * 4, &index, 4);
    }
    if (slot == info.value_size) {
      std::memcpy(b.values.data(), base + std::size_t{start} * slot, std::size_t{n} * slot);
    } else {
      for (std::uint32_t k = 0; k < n; ++k)
        std::memcpy(b.values.data() + std::size_t{k} * info.value_size, base + std::size_t{start + k} * slot,
                    info.value_size);
    }
    // Keep the compiler from dropping copies nobody reads.
    asm volatile("" : : "r"(b.values.data()), "r"(b.keys.data()) : "memory");
    total += n;
  }
  ::munmap(mapped, length);
  return total;
}

#if defined(BPFBATCH_BENCH_LIBBPF)
std::uint64_t libbpf_loop(int fd, std::uint32_t batch, raw_buffers& b, std::uint64_t& syscalls) {
  std::uint64_t total = 0;
  bool first = true;
  int in = 0;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  while (true) {
    __u32 count = batch;
    int r = bpf_map_lookup_batch(fd, first ? nullptr : b.tokens[in], b.tokens[1 - in], b.keys.data(),
                                 b.values.data(), &count, &opts);
    ++syscalls;
    int err = r < 0 ? errno : 0;
    total += count;
    if (err == ENOENT) return total;
    if (err != 0) {
      std::fprintf(stderr, "bpfbatch-bench: libbpf loop: %s\n", std::strerror(err));
      std::exit(1);
    }
    first = false;
    in = 1 - in;
  }
}
#endif

// ---- Measurement ----

struct sample {
  double seconds = 0;
  double user = 0, system = 0;
  std::uint64_t elements = 0, syscalls = 0, allocations = 0;
};

double cpu_seconds(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
}

// One pass of `body`, which returns elements and adds its syscalls.
sample measure(const std::function<std::uint64_t(std::uint64_t&)>& body) {
  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  const std::uint64_t heap_before = heap_allocations.load();
  sample s;
  auto start = clock_type::now();
  s.elements = body(s.syscalls);
  s.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  s.allocations = heap_allocations.load() - heap_before;
  ::getrusage(RUSAGE_SELF, &after);
  s.user = cpu_seconds(after.ru_utime) - cpu_seconds(before.ru_utime);
  s.system = cpu_seconds(after.ru_stime) - cpu_seconds(before.ru_stime);
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct method {
  std::string name;
  bool raw = false;        // a raw reference loop: the best of these is the ratio's base
  bool raw_drain = false;  // the base for drains
  bool drain = false;      // destroys the map's contents: refilled before each pass
  std::function<std::uint64_t(std::uint64_t&)> body;
  std::vector<sample> samples;
};

// A map to measure: a type, and whether it is an array made with
// BPF_F_MMAPABLE ("mmapable_array" on the command line).
struct map_kind {
  map_type type;
  bool mmapable = false;
  std::string name() const { return mmapable ? "mmapable_array" : std::string(map_type_name(type)); }
};

struct config {
  std::vector<map_kind> types{{map_type::hash},  {map_type::percpu_hash}, {map_type::lru_hash},
                              {map_type::array}, {map_type::array, true}, {map_type::percpu_array}};
  std::vector<std::uint32_t> entries{1'000, 100'000, 1'000'000};
  std::vector<std::uint32_t> batch_sizes{64, 256, 1024, 4096};
  std::vector<std::uint32_t> threads{2};  // lookup_shards rows
  std::uint32_t key_size = 4, value_size = 8;
  int reps = 7;
  bool walk = true, drain = true, json = false, sparse = true, quick = false;
  bool tools = true;  // the tool against bpftool on a map with BTF
  std::uint32_t tool_entries = 100'000;
};

std::vector<std::uint32_t> parse_list(const char* text) {
  std::vector<std::uint32_t> out;
  for (const char* p = text; *p;) {
    char* end = nullptr;
    out.push_back(static_cast<std::uint32_t>(std::strtoul(p, &end, 10)));
    p = *end == ',' ? end + 1 : end;
    if (end == p && *p) break;
  }
  return out;
}

map_kind parse_type(std::string_view name) {
  if (name == "mmapable_array") return {map_type::array, true};
  for (std::uint32_t t = 0; t < 40; ++t)
    if (map_type_name(static_cast<map_type>(t)) == name) return {static_cast<map_type>(t)};
  std::fprintf(stderr, "bpfbatch-bench: unknown map type '%.*s'\n", static_cast<int>(name.size()),
               name.data());
  std::exit(2);
}

bool is_array(map_type t) { return t == map_type::array || t == map_type::percpu_array; }

map create_map(const config& c, map_type type, std::uint32_t entries, std::uint32_t max_entries,
               std::uint32_t flags) {
  map_spec spec;
  spec.type = type;
  spec.key_size = c.key_size;
  spec.value_size = c.value_size;
  spec.max_entries = max_entries;
  spec.map_flags = flags;
  spec.name = "bench";
  auto m = map::create(spec);
  if (!m) {
    std::fprintf(stderr, "bpfbatch-bench: creating a %s map of %u: %s\n", map_type_name(type).data(), entries,
                 m.error().message().c_str());
    std::exit(1);
  }
  return std::move(*m);
}

// Fills keys 0..entries-1 (little-endian index in the first bytes).
void fill(const map& m, std::uint32_t entries) {
  const map_info& info = m.info();
  std::vector<std::byte> keys(std::size_t{entries} * info.key_size);
  std::vector<std::byte> values(std::size_t{entries} * info.value_bytes(), std::byte{1});
  for (std::uint32_t i = 0; i < entries; ++i)
    std::memcpy(keys.data() + std::size_t{i} * info.key_size, &i, std::min<std::size_t>(4, info.key_size));
  auto w = update_batch(m, keys, values);
  if (!w || w.applied != entries) {
    std::fprintf(stderr, "bpfbatch-bench: filling: %s after %zu\n", w.error.message().c_str(), w.applied);
    std::exit(1);
  }
}

std::uint64_t library_pass(const map& m, batch_options options, batch_buffers* buffers, bool drain,
                           std::uint64_t& syscalls) {
  iteration_stats stats;
  options.stats = &stats;
  std::uint64_t elements = 0;
  {
    auto gen =
        buffers != nullptr
            ? (drain ? lookup_and_delete_batches(m, *buffers, options) : lookup_batches(m, *buffers, options))
            : (drain ? lookup_and_delete_batches(m, options) : lookup_batches(m, options));
    for (const batch& b : gen) elements += b.size();
    if (gen.error()) {
      std::fprintf(stderr, "bpfbatch-bench: %s\n",
                   describe_error(m.info(), gen.failed_command(), gen.error()).c_str());
      std::exit(1);
    }
  }
  syscalls += stats.syscalls;
  return elements;
}

// One pass of n shards, each on its own thread (the caller's thread runs
// the first), with a buffers object per shard kept across passes.
std::uint64_t sharded_pass(const map& m, std::vector<batch_buffers>& buffers, bool drain,
                           std::uint64_t& syscalls) {
  auto shards =
      drain ? lookup_and_delete_shards(m, std::span(buffers)) : lookup_shards(m, std::span(buffers));
  if (!shards) {
    std::fprintf(stderr, "bpfbatch-bench: shards: %s\n", shards.error().message().c_str());
    std::exit(1);
  }
  std::vector<std::uint64_t> elements(shards->size(), 0);
  auto run = [&](std::size_t i) {
    for (const batch& b : (*shards)[i]) elements[i] += b.size();
  };
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < shards->size(); ++i) threads.emplace_back(run, i);
  run(0);
  for (auto& t : threads) t.join();
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < shards->size(); ++i) {
    const batch_generator& shard = (*shards)[i];
    if (shard.error()) {
      std::fprintf(stderr, "bpfbatch-bench: shard %zu: %s\n", i,
                   describe_error(m.info(), shard.failed_command(), shard.error()).c_str());
      std::exit(1);
    }
    syscalls += shard.stats().syscalls;
    total += elements[i];
  }
  return total;
}

// What two threads can get from this machine right now: the throughput of
// two threads of a CPU-bound loop against one. A shared VM's vCPUs can be
// busy on the host, and then no parallel read can reach two.
double parallel_capacity() {
  auto spin = [] {
    volatile std::uint64_t x = 0;
    for (std::uint64_t i = 0; i < 100'000'000; ++i) x = x + i;
  };
  std::vector<double> ratios;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = clock_type::now();
    spin();
    auto t1 = clock_type::now();
    std::thread other(spin);
    spin();
    other.join();
    auto t2 = clock_type::now();
    ratios.push_back(2 * std::chrono::duration<double>(t1 - t0).count() /
                     std::chrono::duration<double>(t2 - t1).count());
  }
  return median(ratios);
}

struct result_row {
  std::string method;
  double elements_per_second, ratio, syscalls_per_element, user_ms, system_ms, allocations_per_iteration,
      allocations_per_batch_call;
};

void run_map(const config& c, map_kind kind, std::uint32_t entries, bool& first_json) {
  const map_type type = kind.type;
  const std::uint32_t max_entries = type == map_type::lru_hash ? entries + entries / 4 + 256 : entries;
  map m = create_map(c, type, entries, max_entries, kind.mmapable ? BPF_F_MMAPABLE : 0);
  fill(m, entries);
  const map_info& info = m.info();

  raw_buffers raw;
  std::uint32_t largest = std::max(entries, *std::max_element(c.batch_sizes.begin(), c.batch_sizes.end()));
  raw.keys.resize(std::size_t{largest} * info.key_size);
  raw.values.resize(std::size_t{largest} * info.value_bytes());
  batch_buffers reused;
  std::vector<std::vector<batch_buffers>> shard_buffers;  // one set per thread count
  for (std::uint32_t n : c.threads) shard_buffers.emplace_back(n);

  std::vector<method> methods;
  auto add = [&](std::string name, bool is_raw, bool is_raw_drain, bool is_drain, auto body) {
    methods.push_back({std::move(name), is_raw, is_raw_drain, is_drain, body, {}});
  };
  std::vector<std::uint32_t> sizes = c.batch_sizes;
  for (std::uint32_t bs : sizes)
    add("raw " + std::to_string(bs), true, false, false,
        [&, bs](std::uint64_t& sc) { return raw_batch_loop(m.fd(), BPF_MAP_LOOKUP_BATCH, bs, raw, sc); });
  add("raw whole map", true, false, false,
      [&](std::uint64_t& sc) { return raw_batch_loop(m.fd(), BPF_MAP_LOOKUP_BATCH, entries, raw, sc); });
  add("lookup_batches default", false, false, false,
      [&](std::uint64_t& sc) { return library_pass(m, {}, nullptr, false, sc); });
  add("lookup_batches reused buffers", false, false, false,
      [&](std::uint64_t& sc) { return library_pass(m, {}, &reused, false, sc); });
  if (kind.mmapable) {
    add("raw mmap copy 4096", false, false, false,
        [&](std::uint64_t&) { return raw_mmap_loop(m, 4096, raw); });
    add("lookup_batches iteration::batch", false, false, false,
        [&](std::uint64_t& sc) { return library_pass(m, {.method = iteration::batch}, nullptr, false, sc); });
  }
  for (std::uint32_t bs : sizes)
    add("lookup_batches " + std::to_string(bs), false, false, false,
        [&, bs](std::uint64_t& sc) { return library_pass(m, {.batch_size = bs}, nullptr, false, sc); });
#if defined(BPFBATCH_BENCH_LIBBPF)
  for (std::uint32_t bs : sizes)
    add("libbpf " + std::to_string(bs), false, false, false,
        [&, bs](std::uint64_t& sc) { return libbpf_loop(m.fd(), bs, raw, sc); });
#endif
  for (std::size_t t = 0; t < c.threads.size(); ++t)
    add("lookup_shards " + std::to_string(c.threads[t]) + " threads", false, false, false,
        [&, t](std::uint64_t& sc) { return sharded_pass(m, shard_buffers[t], false, sc); });
  if (c.walk)
    add("key walk", false, false, false, [&](std::uint64_t& sc) {
      return library_pass(m, {.method = iteration::key_walk}, nullptr, false, sc);
    });
  const bool can_drain = c.drain && !is_array(type);
  if (can_drain) {
    add("raw drain 4096", false, true, true, [&](std::uint64_t& sc) {
      return raw_batch_loop(m.fd(), BPF_MAP_LOOKUP_AND_DELETE_BATCH, 4096, raw, sc);
    });
    add("lookup_and_delete_batches default", false, false, true,
        [&](std::uint64_t& sc) { return library_pass(m, {}, nullptr, true, sc); });
    for (std::size_t t = 0; t < c.threads.size(); ++t)
      add("lookup_and_delete_shards " + std::to_string(c.threads[t]) + " threads", false, false, true,
          [&, t](std::uint64_t& sc) { return sharded_pass(m, shard_buffers[t], true, sc); });
  }

  // Warm-up, then repetitions in a rotating order.
  auto run_once = [&](method& me, bool keep) {
    sample s = measure(me.body);
    if (s.elements != entries) {
      std::fprintf(stderr, "bpfbatch-bench: %s read %llu of %u elements\n", me.name.c_str(),
                   static_cast<unsigned long long>(s.elements), entries);
      std::exit(1);
    }
    if (me.drain) fill(m, entries);
    if (keep) me.samples.push_back(s);
  };
  for (auto& me : methods) run_once(me, false);
  for (int rep = 0; rep < c.reps; ++rep)
    for (std::size_t k = 0; k < methods.size(); ++k)
      run_once(methods[(k + static_cast<std::size_t>(rep)) % methods.size()], true);

  auto rate = [&](const method& me) {
    std::vector<double> v;
    for (const auto& s : me.samples) v.push_back(static_cast<double>(s.elements) / s.seconds);
    return median(v);
  };
  double best_raw = 0, raw_drain = 0, raw_mmap = 0;
  for (const auto& me : methods) {
    if (me.raw) best_raw = std::max(best_raw, rate(me));
    if (me.raw_drain) raw_drain = rate(me);
    if (me.name.starts_with("raw mmap")) raw_mmap = rate(me);
  }

  std::vector<result_row> rows;
  for (const auto& me : methods) {
    std::vector<double> sc, user, sys, alloc;
    for (const auto& s : me.samples) {
      sc.push_back(static_cast<double>(s.syscalls) / static_cast<double>(s.elements));
      user.push_back(s.user * 1e3);
      sys.push_back(s.system * 1e3);
      alloc.push_back(static_cast<double>(s.allocations));
    }
    const double base = me.drain ? raw_drain : best_raw;
    const double calls = median(sc) * entries;
    rows.push_back({me.name, rate(me), rate(me) / base, median(sc), median(user), median(sys), median(alloc),
                    median(alloc) / std::max(calls, 1.0)});
  }

  const double default_ratio = rows[c.batch_sizes.size() + 1].ratio;
  double drain_ratio = 0;
  for (const auto& r : rows)
    if (r.method == "lookup_and_delete_batches default") drain_ratio = r.ratio;

  if (c.json) {
    for (const auto& r : rows) {
      std::printf(
          "%s{\"type\":\"%s\",\"entries\":%u,\"key_size\":%u,\"value_size\":%u,\"possible_cpus\":%u,"
          "\"reps\":%d,\"method\":\"%s\",\"elements_per_second\":%.0f,\"ratio\":%.4f,"
          "\"syscalls_per_element\":%.6f,\"user_ms\":%.3f,\"system_ms\":%.3f,"
          "\"allocations_per_iteration\":%.1f}",
          first_json ? "" : ",\n", kind.name().c_str(), entries, c.key_size, c.value_size,
          possible_cpus().value_or(0), c.reps, r.method.c_str(), r.elements_per_second, r.ratio,
          r.syscalls_per_element, r.user_ms, r.system_ms, r.allocations_per_iteration);
      first_json = false;
    }
    return;
  }
  std::printf(
      "\n%s, %u entries, key %u B, value %u B, %u possible CPU(s); medians of %d interleaved repetitions\n",
      kind.name().c_str(), entries, c.key_size, c.value_size, possible_cpus().value_or(0), c.reps);
  std::printf("  %-34s %10s %7s %11s %9s %9s %12s\n", "method", "M elem/s", "ratio", "calls/elem", "user ms",
              "sys ms", "allocs/iter");
  (void)info;
  for (const auto& r : rows)
    std::printf("  %-34s %10.2f %7.3f %11.5f %9.2f %9.2f %12.1f\n", r.method.c_str(),
                r.elements_per_second / 1e6, r.ratio, r.syscalls_per_element, r.user_ms, r.system_ms,
                r.allocations_per_iteration);
  const double target = entries <= 1000 ? 0.95 : 0.97;
  std::printf("  target: lookup_batches default at %.3f of the best raw batch loop (target %.2f): %s\n",
              default_ratio, target, default_ratio >= target ? "met" : "NOT met");
  if (kind.mmapable)
    std::printf(
        "  lookup_batches default reads through mmap: %.3f of the raw mmap copy, %.1f times the best "
        "raw batch loop\n",
        rows[c.batch_sizes.size() + 1].elements_per_second / raw_mmap, default_ratio);
  for (const auto& r : rows)
    if (r.method == "lookup_shards 2 threads" && entries >= 100'000 && !kind.mmapable &&
        (type == map_type::hash || type == map_type::array))
      std::printf("  target: lookup_shards 2 threads at %.3f of the best raw batch loop (target 1.60): %s\n",
                  r.ratio, r.ratio >= 1.6 ? "met" : "NOT met");
  if (can_drain)
    std::printf("  target: drain at %.3f of a raw lookup-and-delete loop (target 0.97): %s\n", drain_ratio,
                drain_ratio >= 0.97 ? "met" : "NOT met");
}

// A sparse, huge hash map: the kernel scans every bucket, so one poll costs
// as much as the map is large, not as full (cilium/cilium #45564).
void run_sparse(const config& c) {
  constexpr std::uint32_t entries = 1000, max_entries = 4'000'000;
  map m = create_map(c, map_type::hash, entries, max_entries, BPF_F_NO_PREALLOC);
  fill(m, entries);
  std::vector<double> call_ms;
  std::uint64_t elements = 0;
  for (int rep = 0; rep < c.reps + 1; ++rep) {
    std::uint64_t sc = 0;
    auto start = clock_type::now();
    elements = library_pass(m, {}, nullptr, false, sc);
    const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
    if (rep > 0) call_ms.push_back(ms / static_cast<double>(sc));
  }
  if (c.json) return;
  std::printf(
      "\nsparse hash: %u entries in max_entries %u (BPF_F_NO_PREALLOC): %llu read, one batch call at the "
      "default size takes %.2f ms (median of %d)\n",
      entries, max_entries, static_cast<unsigned long long>(elements), median(call_ms), c.reps);
}

// ---- The tool against bpftool: `dump -j` of a map with BTF ----
//
// tests/bpf/btf_maps.bpf.c's `flows` (u32 keys, a 64-byte struct value with
// a char array), loaded by bpftool as users' maps are, filled, and dumped by
// both programs to /dev/null, interleaved. Whatever the tool prints by
// default (the BTF-formatted entries once it formats them) is measured,
// against --no-btf (the hex form) and bpftool -j map dump.

struct child_sample {
  double seconds = 0;
  double max_rss_mib = 0;
  int status = -1;
};

// Runs a program with stdout and stderr on /dev/null: its wall time, its
// peak resident memory (wait4's ru_maxrss) and exit status.
child_sample run_child(const std::vector<std::string>& args) {
  child_sample out;
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd < 0) return out;
  const auto start = clock_type::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  if (pid > 0 && ::wait4(pid, &status, 0, &usage) == pid) {
    out.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    out.max_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ::close(null_fd);
  return out;
}

std::string installed_bpftool() {
  for (const char* p : {"/usr/sbin/bpftool", "/usr/bin/bpftool", "/sbin/bpftool"})
    if (::access(p, X_OK) == 0) return p;
  return {};
}

// A directory for the object's pins on a BPF filesystem (mounted privately
// when /sys/fs/bpf is none), and its removal with the pins.
struct pin_place {
  std::string mount_point, dir;
  bool mounted = false;
  bool make() {
    constexpr long bpf_fs_magic = 0xcafe4a11;
    struct statfs fs {};
    mount_point = "/sys/fs/bpf";
    if (::statfs(mount_point.c_str(), &fs) != 0 || fs.f_type != bpf_fs_magic) {
      char tmpl[] = "/tmp/bpfbatch-bench-bpffs-XXXXXX";
      if (::mkdtemp(tmpl) == nullptr) return false;
      mount_point = tmpl;
      if (::mount("bpf", tmpl, "bpf", 0, nullptr) != 0) return ::rmdir(tmpl), false;
      mounted = true;
    }
    dir = mount_point + "/bpfbatch-bench-" + std::to_string(::getpid());
    return ::mkdir(dir.c_str(), 0700) == 0;
  }
  ~pin_place() {
    for (const char* sub : {"/maps", "/progs"}) {
      const std::string d = dir + sub;
      for (const char* name :
           {"hash_all", "array_all", "percpu_hash", "percpu_array", "lpm", "floats", "flows", "hash_of_maps",
            "array_of_maps", "btf_maps_bss", "btf_maps_data", "btf_maps_rodata", "touch_maps"})
        ::unlink((d + "/" + name).c_str());
      ::rmdir(d.c_str());
    }
    if (!dir.empty()) ::rmdir(dir.c_str());
    if (mounted) {
      ::umount2(mount_point.c_str(), MNT_DETACH);
      ::rmdir(mount_point.c_str());
    }
  }
};

bool fill_flows(const std::string& path, std::uint32_t entries) {
  auto m = map::open_pinned(path.c_str());
  if (!m) return false;
  std::vector<std::uint32_t> keys(entries);
  std::vector<bpf_objects::flow_record> values(entries);
  for (std::uint32_t i = 0; i < entries; ++i) {
    keys[i] = i;
    values[i] = bpf_objects::flow_value(i);
  }
  return static_cast<bool>(update_batch(*m, keys, values));
}

void print_tool_rows(const config& c, std::uint32_t entries,
                     const std::vector<std::pair<std::string, std::vector<child_sample>>>& runs,
                     bool& first_json) {
  auto med = [](const std::vector<child_sample>& v, double child_sample::*field) {
    std::vector<double> x;
    for (const auto& s : v) x.push_back(s.*field);
    return median(x);
  };
  const double bpftool_ms = med(runs.front().second, &child_sample::seconds) * 1e3;
  if (!c.json)
    std::printf(
        "\nthe tool against bpftool: dump -j of a hash with BTF (struct flow_record, 64 B), %u entries, "
        "to /dev/null; medians of %d interleaved repetitions\n  %-34s %10s %16s %14s\n",
        entries, c.reps, "program", "ms", "bpftool / this", "max RSS MiB");
  for (const auto& [name, samples] : runs) {
    const double ms = med(samples, &child_sample::seconds) * 1e3;
    const double rss = med(samples, &child_sample::max_rss_mib);
    if (c.json) {
      std::printf(
          "%s{\"map\":\"flows (BTF)\",\"entries\":%u,\"reps\":%d,\"method\":\"%s\",\"median_ms\":%.3f,"
          "\"bpftool_ratio\":%.3f,\"max_rss_mib\":%.2f}",
          first_json ? "" : ",\n", entries, c.reps, name.c_str(), ms, bpftool_ms / ms, rss);
      first_json = false;
    } else {
      std::printf("  %-34s %10.2f %16.2f %14.2f\n", name.c_str(), ms, bpftool_ms / ms, rss);
    }
  }
}

void run_tools(const config& c, bool& first_json) {
#if defined(BPFBATCH_BENCH_TOOL) && defined(BPFBATCH_BENCH_BTF_OBJECT)
  const std::string tool = BPFBATCH_BENCH_TOOL, object = BPFBATCH_BENCH_BTF_OBJECT;
#else
  const std::string tool, object;
#endif
  const std::string bpftool = installed_bpftool();
  if (tool.empty() || object.empty() || bpftool.empty() || ::access(object.c_str(), R_OK) != 0) {
    if (!c.json) std::printf("\nno tool row: it needs the tool, bpftool and clang's BPF object\n");
    return;
  }
  pin_place place;
  if (!place.make() ||
      run_child({bpftool, "prog", "loadall", object, place.dir + "/progs", "pinmaps", place.dir + "/maps"})
              .status != 0 ||
      !fill_flows(place.dir + "/maps/flows", c.tool_entries)) {
    std::fprintf(stderr, "bpfbatch-bench: could not load and fill %s with bpftool\n", object.c_str());
    return;
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> programs = {
      {"bpftool -j map dump", {bpftool, "-j", "map", "dump", "pinned", place.dir + "/maps/flows"}},
      {"bpfbatch dump -j", {tool, "dump", "pinned", place.dir + "/maps/flows", "-j", "-q"}},
      {"bpfbatch dump -j --no-btf",
       {tool, "dump", "pinned", place.dir + "/maps/flows", "-j", "-q", "--no-btf"}},
  };
  std::vector<std::pair<std::string, std::vector<child_sample>>> runs;
  for (const auto& p : programs) runs.push_back({p.first, {}});
  for (int rep = 0; rep < c.reps; ++rep)
    for (std::size_t k = 0; k < programs.size(); ++k) {
      const std::size_t i = (k + static_cast<std::size_t>(rep)) % programs.size();  // rotated
      const auto s = run_child(programs[i].second);
      if (s.status != 0) {
        std::fprintf(stderr, "bpfbatch-bench: %s failed (status %d)\n", programs[i].first.c_str(), s.status);
        return;
      }
      runs[i].second.push_back(s);
    }
  print_tool_rows(c, c.tool_entries, runs, first_json);
}

}  // namespace

int main(int argc, char** argv) {
  config c;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bpfbatch-bench: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--type") {
      c.types.clear();
      std::string list = next();
      for (std::size_t p = 0; p <= list.size();) {
        std::size_t q = list.find(',', p);
        if (q == std::string::npos) q = list.size();
        c.types.push_back(parse_type(std::string_view(list).substr(p, q - p)));
        p = q + 1;
      }
    } else if (a == "--entries") {
      c.entries = parse_list(next());
    } else if (a == "--batch-sizes") {
      c.batch_sizes = parse_list(next());
    } else if (a == "--reps") {
      c.reps = std::max(1, std::atoi(next()));
    } else if (a == "--threads") {
      c.threads = parse_list(next());
    } else if (a == "--key-size") {
      c.key_size = static_cast<std::uint32_t>(std::atoi(next()));
    } else if (a == "--value-size") {
      c.value_size = static_cast<std::uint32_t>(std::atoi(next()));
    } else if (a == "--no-walk") {
      c.walk = false;
    } else if (a == "--no-drain") {
      c.drain = false;
    } else if (a == "--no-sparse") {
      c.sparse = false;
    } else if (a == "--no-tools") {
      c.tools = false;
    } else if (a == "--json") {
      c.json = true;
    } else if (a == "--quick") {
      // A smoke run (meson test --benchmark, CI): small maps, few repetitions.
      c.quick = true;
      c.entries = {1000, 20'000};
      c.reps = 3;
      c.sparse = false;
      c.tool_entries = 10'000;
    } else {
      std::fprintf(
          stderr,
          "usage: bpfbatch-bench [--type T,...] [--entries N,...] [--reps R] [--batch-sizes B,...]\n"
          "                      [--threads N,...] [--key-size K] [--value-size V] [--no-walk] [--no-drain]\n"
          "                      [--no-sparse] [--no-tools] [--quick] [--json]\n");
      return 2;
    }
  }
  if (c.key_size < 4) {
    std::fprintf(stderr, "bpfbatch-bench: --key-size must be at least 4\n");
    return 2;
  }
  std::uint32_t cpus = possible_cpus().value_or(0);
  char release[128] = "?";
  if (FILE* f = std::fopen("/proc/sys/kernel/osrelease", "r")) {
    if (std::fgets(release, sizeof(release), f)) release[std::strcspn(release, "\n")] = '\0';
    std::fclose(f);
  }
  if (c.json) {
    std::printf("[");
  } else {
    std::printf("bpfbatch-bench: Linux %s, %u possible CPU(s), %ld online%s%s\n", release, cpus,
                ::sysconf(_SC_NPROCESSORS_ONLN), c.quick ? " (quick smoke run: not a measurement)" : "",
#if defined(BPFBATCH_BENCH_LIBBPF)
                ""
#else
                "; libbpf not found: no libbpf rows"
#endif
    );
  }
  if (!c.json)
    std::printf("two threads of a CPU-bound loop reach %.2f times one (the most parallel rows can reach)\n",
                parallel_capacity());
  bool first_json = true;
  for (std::uint32_t entries : c.entries)
    for (const map_kind& kind : c.types) run_map(c, kind, entries, first_json);
  if (c.sparse) run_sparse(c);
  if (c.tools) run_tools(c, first_json);
  if (c.json) std::printf("]\n");
  return 0;
}
