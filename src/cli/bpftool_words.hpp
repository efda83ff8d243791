// bpftool's words for one element (tools/bpf/bpftool/map.c, parse_elem and
// parse_bytes): `key BYTES`, `value BYTES`, `any | exist | noexist`, where
// BYTES is one word per byte, `1 0 0 0` or `0x01 0x00 ...`, or after the
// word `hex`, `01 00 ...`. Words are matched by prefix as bpftool does
// (`k` is key, `h` is hex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <bpfbatch/map_info.hpp>

namespace bpfbatch::cli {

// What a verb takes among the words.
enum element_part : unsigned {
  takes_key = 1u << 0,
  takes_value = 1u << 1,
  takes_flags = 1u << 2,
};

struct element_words {
  // info.key_size bytes; empty when no key was given.
  std::vector<std::byte> key;
  // info.value_bytes() bytes, each CPU's value in its per-CPU slot; empty
  // when no value was given.
  std::vector<std::byte> value;
  // A map of maps' value is a MAP (id N, pinned PATH or name NAME) as
  // bpftool takes it: the caller opens it and writes its descriptor into
  // value (4 bytes, zeroed here).
  std::string_view value_map_kind;
  std::string_view value_map_ref;
  std::uint64_t flags = 0;  // BPF_ANY, BPF_NOEXIST or BPF_EXIST
  std::string error;        // why the words do not fit the map; empty when they do
};

// Reads words for a map described by info. A key is required when the verb
// takes one and the map has keys (queues and stacks have none); a value
// whenever the verb takes one. Per-CPU maps take one CPU's value, written
// to every possible CPU as bpftool does, or as an extension one value per
// possible CPU (info.value_copies of them, one after the other).
element_words parse_element_words(std::span<const std::string_view> words, const map_info& info,
                                  unsigned parts);

// One byte as bpftool reads it with strtoul: decimal, 0x hexadecimal or
// 0-led octal (base 16 after `hex`). Unlike strtoul, a sign, a space or a
// number above 255 is refused rather than wrapped into a byte.
std::optional<std::byte> parse_byte(std::string_view word, bool hex) noexcept;

// A u32 as bpftool reads sizes and flags (strtoul, base 0; 16 with hex), with
// no sign, space or wrap-around.
std::optional<std::uint32_t> parse_number(std::string_view word, bool hex = false) noexcept;

// Whether word is a prefix of keyword, as bpftool's is_prefix, but never
// for an empty word.
bool is_prefix(std::string_view word, std::string_view keyword) noexcept;

// Parts joined into one message. Not "text" + escaped(word): g++ 12 at -O3
// warns (-Wrestrict, a false positive) inside that operator+.
std::string joined(std::initializer_list<std::string_view> parts);

}  // namespace bpfbatch::cli
