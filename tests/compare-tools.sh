#!/bin/sh
# Two builds of the tool print the same thing: the 32-bit static bpfbatch
# against the 64-bit one, on the same maps (one per value layout: plain,
# per-CPU with padding, mmap-able array, LPM trie, LRU per-CPU), created and
# filled by bpftool, each dumped by both (plain, JSON, walked, summed) and
# compared byte for byte.
#
#   tests/compare-tools.sh TOOL_A TOOL_B
#
# POSIX sh: .ci/run runs it on the host, and a qemu guest whose kernel runs
# 32-bit programs runs it with busybox (tests/vm/i686-suite.sh) where the
# host's kernel does not. Needs bpftool and a BPF filesystem at /sys/fs/bpf.
# Exit status: 0 when every dump is equal and not empty.
set -u
tool_a=$1 tool_b=$2
pins=/sys/fs/bpf/bpfbatch-compare-$$
work=$(mktemp -d) || exit 1
status=0
mkdir -p "$pins" || exit 1

bpftool map create "$pins/hash" type hash key 4 value 8 entries 256 name ci_hash &&
  bpftool map create "$pins/percpu" type percpu_hash key 8 value 12 entries 256 name ci_percpu &&
  bpftool map create "$pins/array" type array key 4 value 13 entries 200 name ci_array flags 1024 &&
  bpftool map create "$pins/trie" type lpm_trie key 8 value 4 entries 64 name ci_trie flags 1 &&
  bpftool map create "$pins/lru" type lru_percpu_hash key 4 value 4 entries 256 name ci_lru || status=1

i=0
while [ "$i" -lt 200 ]; do
  echo "map update pinned $pins/hash key $i 0 0 $((i % 7)) value $((i * 3 % 256)) 1 2 3 4 5 6 255"
  echo "map update pinned $pins/percpu key $i 0 0 0 0 0 0 $((i % 5)) value $i 0 0 0 1 2 3 4 5 6 7 $((255 - i))"
  echo "map update pinned $pins/array key $i 0 0 0 value $i 1 2 3 4 5 6 7 8 9 10 11 $((i % 256))"
  if [ "$i" -lt 40 ]; then
    echo "map update pinned $pins/trie key $((8 + i % 25)) 0 0 0 10 $i 0 0 value $i 0 0 0"
    echo "map update pinned $pins/lru key $i 1 0 0 value $((i * 5 % 256)) 0 0 1"
  fi
  i=$((i + 1))
done >"$work/commands"
bpftool batch file "$work/commands" >/dev/null || status=1

compared=0
for name in hash percpu array trie lru; do
  for args in "-j" "" "--method walk -j" "--sum -j" "--sum"; do
    case "$name:$args" in hash:--sum* | array:--sum* | trie:--sum*) continue ;; esac
    # $args is split into words on purpose.
    # shellcheck disable=SC2086
    if "$tool_a" dump pinned "$pins/$name" $args >"$work/a" 2>&1 &&
      "$tool_b" dump pinned "$pins/$name" $args >"$work/b" 2>&1 && cmp -s "$work/a" "$work/b" &&
      [ -s "$work/b" ]; then
      compared=$((compared + 1))
    else
      echo "compare: dump $name $args: $tool_a failed or printed something other than $tool_b:" >&2
      diff "$work/a" "$work/b" | head -n 10 | cut -c 1-200
      status=1
    fi
  done
done
counts=""
for name in hash percpu array trie lru; do
  counts="$counts${counts:+, }$name: $("$tool_b" dump pinned "$pins/$name" --count) entries"
done
echo "compare: $compared dumps equal between $tool_a and $tool_b ($counts)"
rm -rf "$pins" "$work"
exit $status
