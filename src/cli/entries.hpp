// How the tool prints map entries: bpftool's plain layout and JSON shapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <bpfbatch/batch.hpp>
#include <bpfbatch/btf_format.hpp>
#include <bpfbatch/map_info.hpp>

#include <bpfbatch/map.hpp>

#include "arguments.hpp"
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
  // bpftool's lookup and pop print "key": [] for a map without keys (a
  // queue), where a dump prints no key.
  bool empty_key_in_json = false;
  // Reused for each formatted entry, so that it allocates only as it grows.
  mutable std::string scratch;
};

// One element to print: its key, and its value as the kernel lays it out
// (per-CPU maps: copies values, each in a slot of stride bytes).
struct element {
  std::span<const std::byte> key;
  std::span<const std::byte> value;
  std::uint32_t copies = 1;
  std::uint32_t value_size = 0;
  std::size_t stride = 0;

  static element of(const batch& b, std::size_t i) noexcept;
  std::span<const std::byte> on_cpu(std::uint32_t cpu) const noexcept {
    return value.subspan(cpu * stride, value_size);
  }
  // A map of maps' value: the inner map's id.
  std::uint32_t inner_map_id() const noexcept;
};

// One element alone, as bpftool's lookup and pop print it (print_key_value):
// the entry of a dump without the array around it, then a new line.
void print_element(output& out, const entry_format& format, const element& e);

// The formatters of a map's key and value types, made once before the first
// batch. bpftool (map.c, get_map_kv_btf) reads the BTF only when the map
// names a value type, and a BTF it cannot read ends the dump ("failed to get
// btf"): so does ours, before anything is printed, saying why and that
// --no-btf prints the entries without it.
struct btf_formats {
  std::optional<btf_formatter> key;
  std::optional<btf_formatter> value;
};

btf_formats btf_formats_for(const arguments& o, const map& m);

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
