// BTF-defined maps whose keys and values cover every type bpftool formats
// (btf_dumper.c), for the CLI tests that compare our dumps with bpftool's.
// Compiled with clang's BPF target (-g gives the .BTF section) and loaded
// with `bpftool prog loadall OBJ DIR pinmaps DIR`; the C++ mirror of every
// layout is in tests/bpf_objects.hpp and must change with this file.
//
// Self-contained: no libbpf headers (libbpf-dev is not a test dependency)
// and no system headers, so the object builds the same on every build
// machine. The macros below are libbpf's bpf_helpers.h ones.

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef _Bool bool;

// enum bpf_map_type and BPF_F_NO_PREALLOC (include/uapi/linux/bpf.h).
enum {
  MAP_HASH = 1,
  MAP_ARRAY = 2,
  MAP_PERCPU_HASH = 5,
  MAP_PERCPU_ARRAY = 6,
  MAP_LPM_TRIE = 11,
  MAP_ARRAY_OF_MAPS = 12,
  MAP_HASH_OF_MAPS = 13,
};
#define F_NO_PREALLOC 1

// bpf_map_lookup_elem is helper 1 (include/uapi/linux/bpf.h).
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

typedef __u64 counter_t;

enum verdict { VERDICT_PASS = 0, VERDICT_DROP = 1, VERDICT_REDIRECT = 7 };
enum direction { DIR_IN = -1, DIR_NONE = 0, DIR_OUT = 1 };

struct flow_key {
  __u32 saddr;
  __u32 daddr;
  __u16 sport;
  __u16 dport;
  __u8 proto;
  __u8 pad[3];
};

struct inner_point {
  __s16 x;
  __s16 y;
};

struct nested {
  struct inner_point point;
  union {
    __u32 word;
    __u8 octets[4];
  } as;
};

// Every scalar width, strings, arrays, bitfields, qualifiers, pointers,
// nested and anonymous aggregates: 144 bytes.
struct all_types {
  __s8 s8;
  __u8 u8;
  __s16 s16;
  __u16 u16;
  __s32 s32;
  __u32 u32;
  __s64 s64;
  __u64 u64;
  bool flag;
  char c;
  signed char sc;
  unsigned char uc;
  char name[16];
  unsigned char raw[4];
  __u16 matrix[2][3];
  struct nested nested;
  struct {
    __u32 anon_a;
    union {
      __u32 anon_word;
      __s8 anon_bytes[4];
    };
  };
  enum verdict verdict;
  enum direction direction;
  unsigned int bf_low : 3;
  unsigned int bf_cross : 10;  // bits 3..12: across the first byte boundary
  int bf_signed : 7;           // bits 13..19: across the second
  unsigned int bf_rest : 12;
  const volatile __u32 cv;
  counter_t packets;
  const counter_t bytes;
  void *opaque;
  struct flow_key *key_ptr;
  __u64 tail;
};

struct stats {
  __u64 packets;
  __s64 delta;
  char tag[6];
  __u16 flags;
};

struct lpm_key {
  __u32 prefixlen;
  __u8 data[16];
};

struct with_float {
  __u32 id;
  float f;
  double d;
  __u32 after;
};

// About 64 bytes, several fields and a char array: the benchmark's value.
struct flow_record {
  __u64 packets;
  __u64 bytes;
  __u64 first_seen;
  __u64 last_seen;
  char comm[16];
  __u32 pid;
  __u16 sport;
  __u16 dport;
  __u8 proto;
  __u8 tcp_flags;
  __u16 vlan;
  __u32 ifindex;
};

struct {
  __uint(type, MAP_HASH);
  __uint(max_entries, 64);
  __type(key, struct flow_key);
  __type(value, struct all_types);
} hash_all SEC(".maps");

struct {
  __uint(type, MAP_ARRAY);
  __uint(max_entries, 8);
  __type(key, __u32);
  __type(value, struct all_types);
} array_all SEC(".maps");

struct {
  __uint(type, MAP_PERCPU_HASH);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, struct stats);
} percpu_hash SEC(".maps");

struct {
  __uint(type, MAP_PERCPU_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, struct stats);
} percpu_array SEC(".maps");

struct {
  __uint(type, MAP_LPM_TRIE);
  __uint(max_entries, 16);
  __uint(map_flags, F_NO_PREALLOC);
  __type(key, struct lpm_key);
  __type(value, enum verdict);
} lpm SEC(".maps");

// bpftool 7.1 cannot print a FLOAT: its own map, so that it spoils no other.
struct {
  __uint(type, MAP_HASH);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, struct with_float);
} floats SEC(".maps");

struct {
  __uint(type, MAP_HASH);
  __uint(max_entries, 100000);
  __type(key, __u32);
  __type(value, struct flow_record);
} flows SEC(".maps");

struct inner {
  __uint(type, MAP_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u32);
};

struct {
  __uint(type, MAP_HASH_OF_MAPS);
  __uint(max_entries, 8);
  __type(key, __u32);
  __array(values, struct inner);
} hash_of_maps SEC(".maps");

struct {
  __uint(type, MAP_ARRAY_OF_MAPS);
  __uint(max_entries, 4);
  __type(key, __u32);
  __array(values, struct inner);
} array_of_maps SEC(".maps");

// Global data: libbpf makes one array map per section (DATASEC of VARs).
__u64 bss_counter;                                // .bss
struct inner_point bss_point;                     // .bss
__s32 data_level = -3;                            // .data
char data_label[8] = "label";                     // .data
enum direction data_direction = DIR_OUT;          // .data
const volatile __u32 ro_limit = 1000;             // .rodata
const volatile char ro_name[12] = "btf_maps";     // .rodata
const volatile struct stats ro_stats = {.packets = 5, .delta = -5, .tag = "ro"};  // .rodata

SEC("socket")
int touch_maps(void *ctx) {
  __u32 index = 0;
  struct flow_key key = {};
  struct lpm_key prefix = {};
  int hits = 0;
  (void)ctx;
  hits += bpf_map_lookup_elem(&hash_all, &key) != 0;
  hits += bpf_map_lookup_elem(&array_all, &index) != 0;
  hits += bpf_map_lookup_elem(&percpu_hash, &index) != 0;
  hits += bpf_map_lookup_elem(&percpu_array, &index) != 0;
  hits += bpf_map_lookup_elem(&lpm, &prefix) != 0;
  hits += bpf_map_lookup_elem(&floats, &index) != 0;
  hits += bpf_map_lookup_elem(&flows, &index) != 0;
  hits += bpf_map_lookup_elem(&hash_of_maps, &index) != 0;
  hits += bpf_map_lookup_elem(&array_of_maps, &index) != 0;
  bss_counter += hits;
  bss_point.x = (__s16)data_level;
  return hits + (int)ro_limit + ro_name[0] + (int)ro_stats.delta + data_label[0] + data_direction;
}

char _license[] SEC("license") = "GPL";
