// How the tool prints map entries: bpftool's plain layout and JSON shapes.
#pragma once

#include <cstddef>
#include <string>

#include <bpfbatch/batch.hpp>
#include <bpfbatch/btf_format.hpp>
#include <bpfbatch/map_info.hpp>

#include "output.hpp"

namespace bpfbatch::cli {

struct entry_format {
  const map_info& info;
  bool json = false;
  // --sum: add up each element's per-CPU values in words of this many bytes
  // (8 or 4); 0 prints the values.
  std::size_t sum_word = 0;
  // The map's key and value types (null without BTF, with --no-btf or
  // --sum): -j adds bpftool's "formatted" object. key_btf is null when the
  // map names no key type (bpftool then prints no "key" there).
  const btf_formatter* key_btf = nullptr;
  const btf_formatter* value_btf = nullptr;
  // Plain output of a map with a BTF id: bpftool (map.c, do_dump) then
  // prints through its pretty JSON writer, an array of {"key", "value"}
  // objects with no "Found" line; when it has no value type to format
  // (libbpf gives maps of maps none), the hex entries inside "[" and "]".
  bool btf_layout = false;
  // Reused for each formatted entry, so that it allocates only as it grows.
  mutable std::string scratch;
};

// Element i of the batch. first: the first entry of the whole output, which
// in JSON opens the array (later ones are preceded by a comma), so that
// nothing reaches stdout before the first element.
void print_entry(output& out, const entry_format& format, const batch& b, std::size_t i, bool first);

// Every entry of the batch; first: the batch starts the output.
void print_batch(output& out, const entry_format& format, const batch& b, bool first);

// What follows the last entry: "Found N elements" or the JSON array's end
// (the whole "[]" when there was no entry).
void print_end(output& out, const entry_format& format, std::uint64_t entries);

}  // namespace bpfbatch::cli
