#!/bin/bash
# How much faster `bpfbatch load` writes N u32 -> u64 entries than bpftool
# does the same updates from `bpftool batch file` (one `map update` line
# each, the only way bpftool has to restore a map). Both start from an empty
# hash map; each writes the same entries, and the script checks that both
# maps then hold N elements. Needs root, bpftool and a BPF filesystem at
# /sys/fs/bpf.
#
#   tests/bench/load_vs_bpftool.sh BUILD/src/cli/bpfbatch [N]   (N: 1000000)
set -euo pipefail
tool=${1:?usage: $0 PATH/TO/bpfbatch [N]}
n=${2:-1000000}
dir=$(mktemp -d)
pin=/sys/fs/bpf/bpfbatch_load_bench_$$
trap 'rm -rf "$dir"; rm -f "$pin"_a "$pin"_b "$pin"_c' EXIT

# Key i (little-endian u32) and value 3i+1 (little-endian u64), as a dump -j
# document and as bpftool batch lines.
awk -v n="$n" -v doc="$dir/doc.json" -v batch="$dir/batch.txt" -v pin="${pin}_b" 'BEGIN {
  printf "[" > doc
  for (i = 0; i < n; i++) {
    v = 3 * i + 1
    k1 = i % 256; k2 = int(i / 256) % 256; k3 = int(i / 65536) % 256; k4 = int(i / 16777216) % 256
    line = sprintf("%s{\"key\":[\"0x%02x\",\"0x%02x\",\"0x%02x\",\"0x%02x\"],\"value\":[", i ? "," : "", k1, k2, k3, k4)
    vals = ""
    for (b = 0; b < 8; b++) { byte[b] = v % 256; v = int(v / 256) }
    line = line sprintf("\"0x%02x\",\"0x%02x\",\"0x%02x\",\"0x%02x\",\"0x%02x\",\"0x%02x\",\"0x%02x\",\"0x%02x\"]}",
                        byte[0], byte[1], byte[2], byte[3], byte[4], byte[5], byte[6], byte[7])
    printf "%s", line > doc
    printf "map update pinned %s key %d %d %d %d value %d %d %d %d %d %d %d %d\n", pin, k1, k2, k3, k4,
           byte[0], byte[1], byte[2], byte[3], byte[4], byte[5], byte[6], byte[7] > batch
  }
  printf "]\n" > doc
}'

bpftool map create "${pin}_a" type hash key 4 value 8 entries "$n" name load_bench_a
bpftool map create "${pin}_b" type hash key 4 value 8 entries "$n" name load_bench_b
bpftool map create "${pin}_c" type hash key 4 value 8 entries "$n" name load_bench_c

now() { date +%s.%N; }
t0=$(now)
"$tool" load pinned "${pin}_a" "$dir/doc.json" >/dev/null
t1=$(now)
bpftool batch file "$dir/batch.txt" >/dev/null
t2=$(now)
# From a pipe: read once (a regular file is read twice, checked whole first).
cat "$dir/doc.json" | "$tool" load pinned "${pin}_c" - >/dev/null
t3=$(now)

a=$("$tool" dump pinned "${pin}_a" --count)
b=$("$tool" dump pinned "${pin}_b" --count)
c=$("$tool" dump pinned "${pin}_c" --count)
[ "$a" = "$n" ] && [ "$b" = "$n" ] && [ "$c" = "$n" ] ||
  { echo "expected $n elements in each map, found $a, $b and $c" >&2; exit 1; }
awk -v n="$n" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" 'BEGIN {
  printf "%d entries: bpftool batch file %.2f s; bpfbatch load FILE %.2f s (%.1fx), load - from a pipe %.2f s (%.1fx)\n",
         n, t2 - t1, t1 - t0, (t2 - t1) / (t1 - t0), t3 - t2, (t2 - t1) / (t3 - t2)
}'
