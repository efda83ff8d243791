// btf_formatter: a key or value printed by its BTF type exactly as bpftool
// prints it (tools/bpf/bpftool/btf_dumper.c), either as the compact JSON of
// `bpftool -j map dump`'s "formatted" object or as the indented layout of a
// plain `bpftool map dump` of a map with BTF.
//
// The type is resolved once into a plan (typedefs and qualifiers stripped,
// sizes, member offsets and bitfields computed, enumerator names escaped),
// so that formatting an element is a walk over the plan that appends to the
// caller's string: no type lookup and no allocation beyond the string's own
// growth. The plan keeps no reference to the btf it was made from.
#pragma once

#include <bpfbatch/config.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include <bpfbatch/btf.hpp>
#include <bpfbatch/result.hpp>

namespace bpfbatch {

class BPFBATCH_API btf_formatter {
 public:
  // What make() works out, defined in src/btf_format.cpp (opaque here).
  struct plan;

  // The plan for values of type id. EINVAL for a type without a value (void,
  // FWD, FUNC, ...) anywhere inside it, or a member that lies outside its
  // struct; E2BIG for a type nested more than 32 deep or with more than
  // 65,536 parts once expanded; ELOOP for a cycle.
  static result<btf_formatter> make(const btf& types, std::uint32_t type_id);

  btf_formatter(btf_formatter&&) noexcept;
  btf_formatter& operator=(btf_formatter&&) noexcept;
  btf_formatter(const btf_formatter&) = delete;
  btf_formatter& operator=(const btf_formatter&) = delete;
  ~btf_formatter();

  // The bytes a value of the type takes: the only size format() accepts.
  std::size_t value_size() const noexcept;

  // Appends value as bpftool -j prints it inside "formatted" (no spaces).
  // EINVAL, and nothing appended, when value.size() != value_size(). Any
  // bytes are safe: a char array without a NUL is printed as numbers, an
  // unknown enum value as a number.
  std::error_code append_json(std::span<const std::byte> value, std::string& out) const;

  // Appends value as plain bpftool map dump prints it for a map with BTF: its
  // JSON writer in pretty mode with is_plain_text (pointers as "0x..",
  // non-printable chars as 0x.., bitfields unquoted), four spaces per level,
  // depth being the number of objects and arrays already open around it.
  std::error_code append_text(std::span<const std::byte> value, std::string& out, unsigned depth = 0) const;

 private:
  explicit btf_formatter(std::unique_ptr<plan> p) noexcept;
  std::unique_ptr<plan> plan_;
};

}  // namespace bpfbatch
