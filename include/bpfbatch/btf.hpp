// btf: the BPF Type Format that describes a map's keys and values
// (Documentation/bpf/btf.rst, include/uapi/linux/btf.h), read without libbpf:
// parsed from a raw blob or fetched from the kernel, every offset, count and
// string index checked against the blob before anything is read there.
#pragma once

#include <bpfbatch/config.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <bpfbatch/result.hpp>

namespace bpfbatch {

class map;

// Values are the kernel's BTF_KIND_* (include/uapi/linux/btf.h).
enum class btf_kind : std::uint8_t {
  void_type = 0,  // only type id 0 is void; no record has this kind
  integer = 1,
  pointer = 2,
  array = 3,
  structure = 4,
  union_type = 5,
  enumeration = 6,
  forward_declaration = 7,
  type_alias = 8,  // typedef
  volatile_qualifier = 9,
  const_qualifier = 10,
  restrict_qualifier = 11,
  function = 12,
  function_prototype = 13,
  variable = 14,
  data_section = 15,
  floating_point = 16,
  declaration_tag = 17,
  type_tag = 18,
  enumeration64 = 19,
};

// The kernel's name for a kind: "INT", "STRUCT", "ENUM64", ...
BPFBATCH_API std::string_view btf_kind_name(btf_kind kind) noexcept;

// BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL: how an integer is printed.
enum class btf_int_encoding : std::uint8_t { none = 0, is_signed = 1, is_char = 2, is_bool = 4 };

// A member of a struct or union.
struct btf_member {
  std::string_view name;  // empty for an anonymous struct or union member
  std::uint32_t type = 0;
  std::uint32_t bit_offset = 0;     // from the start of the enclosing type
  std::uint32_t bitfield_size = 0;  // 0 unless the member is a bitfield (kind_flag)
};

// An enumerator of an ENUM or ENUM64: its value as the type's bits,
// zero-extended to 64 (a signed ENUM's -1 is 0xffffffff).
struct btf_enumerator {
  std::string_view name;
  std::uint64_t value = 0;
};

// A parameter of a FUNC_PROTO (type 0 with no name: "...").
struct btf_parameter {
  std::string_view name;
  std::uint32_t type = 0;
};

// A variable of a DATASEC (.bss, .data, .rodata): a VAR's id and its bytes
// in the section.
struct btf_section_variable {
  std::uint32_t type = 0;
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
};

// One type record, decoded and checked. Spans and names are views into the
// btf object that holds the record: valid while it lives (also after it is
// moved: the storage moves with it).
struct btf_type {
  std::uint32_t id = 0;
  btf_kind kind = btf_kind::void_type;
  bool kind_flag = false;
  std::string_view name;
  // INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT: the size in bytes.
  std::uint32_t size = 0;
  // PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO (the return
  // type), VAR, DECL_TAG, TYPE_TAG: the type referred to.
  std::uint32_t type = 0;
  // INT: BTF_INT_ENCODING, BTF_INT_OFFSET, BTF_INT_BITS.
  btf_int_encoding encoding = btf_int_encoding::none;
  std::uint8_t int_bit_offset = 0;
  std::uint8_t int_bits = 0;
  // ARRAY.
  std::uint32_t element_type = 0;
  std::uint32_t index_type = 0;
  std::uint32_t element_count = 0;
  // FUNC (vlen) and VAR: the linkage; DECL_TAG: component_idx (-1 for the
  // whole type).
  std::uint32_t linkage = 0;
  std::int32_t component_index = -1;
  std::span<const btf_member> members;              // STRUCT, UNION
  std::span<const btf_enumerator> enumerators;      // ENUM, ENUM64
  std::span<const btf_parameter> parameters;        // FUNC_PROTO
  std::span<const btf_section_variable> variables;  // DATASEC

  // ENUM and ENUM64 with kind_flag: the enumerators are signed.
  bool is_signed_enum() const noexcept { return kind_flag; }
};

// Where a field sits in a value and what it is: what btf::field() finds for
// a dotted path, and what reads it from a value's bytes.
struct btf_field {
  std::uint32_t type = 0;        // the field's type id as declared (typedefs kept)
  std::uint64_t bit_offset = 0;  // from the start of the value
  std::uint32_t bit_size = 0;    // a bitfield's width; 0 for a field of whole bytes
  std::uint64_t byte_size = 0;   // the size of the field's type, typedefs and qualifiers resolved

  // The field's value as T: nullopt unless sizeof(T) == byte_size (for a
  // bitfield: its declared type's size and an integral T) and the field lies
  // inside value. A bitfield is extracted and, for a signed T, sign-extended.
  // Bit offsets are little-endian ones (every target bpfbatch is built for).
  template <class T>
  std::optional<T> read(std::span<const std::byte> value) const noexcept;
};

// A parsed BTF blob. Move-only; type records and their views live as long
// as the object.
class BPFBATCH_API btf {
 public:
  // Parses a raw blob, as BPF_BTF_LOAD takes it and BPF_OBJ_GET_INFO_BY_FD
  // gives it back, into a copy of its own. A malformed blob is EINVAL:
  // header, section bounds, record and trailing-data bounds, string offsets,
  // referenced type ids, unknown kinds; reason, when given, receives a static
  // text saying what is wrong ("string offset past the string section").
  // Never reads outside blob. Cycles (a typedef of itself, a struct holding
  // an array of itself), which the kernel refuses to load, still parse:
  // resolve, size_of and field answer ELOOP for the types caught in one,
  // and the rest of the blob stays readable. Split BTF (a module's, whose
  // ids continue vmlinux's) is not supported: its references are EINVAL.
  static result<btf> parse(std::span<const std::byte> blob, std::string_view* reason = nullptr);

  // The kernel's BTF object with this id: BPF_BTF_GET_FD_BY_ID, then
  // BPF_OBJ_GET_INFO_BY_FD twice (the size, then the data). Getting a
  // descriptor from an id needs CAP_SYS_ADMIN: without it, EPERM.
  static result<btf> from_kernel(std::uint32_t btf_id);

  btf(btf&&) noexcept;
  btf& operator=(btf&&) noexcept;
  btf(const btf&) = delete;
  btf& operator=(const btf&) = delete;
  ~btf();

  // The largest type id; ids 1 to type_count() have records, 0 is void.
  std::uint32_t type_count() const noexcept;
  // The record of id; nullptr for 0 (void) and ids past type_count().
  const btf_type* type(std::uint32_t id) const noexcept;

  // id with typedefs, qualifiers (const, volatile, restrict) and type tags
  // stripped. EINVAL for an id out of range, ELOOP for a cycle.
  result<std::uint32_t> resolve(std::uint32_t id) const noexcept;
  // The bytes a value of type id takes (arrays: element size times count;
  // a pointer: 8; a VAR: its type's). EINVAL for types without a size (void,
  // FUNC, FUNC_PROTO, FWD, DECL_TAG) and ids out of range, ELOOP for a type
  // that would contain itself, EOVERFLOW past 64 bits.
  result<std::uint64_t> size_of(std::uint32_t id) const noexcept;
  // A C-like name for messages and `info`: "struct flow_key", "__u32",
  // "char[16]", "unsigned int *", "char (*)[16]", "int *const", "struct
  // {...}" for an anonymous one. Bounded: a pointer cycle ends in "...".
  std::string name_of(std::uint32_t id) const;

  // The field at a dotted path inside a value of type id: "packets",
  // "stats.packets", "hist[3]", "addr.v6[2]"; anonymous struct and union
  // members are looked through, as C does. ENOENT when no member has that
  // name, EINVAL for a malformed path (or an index into what is no array),
  // ERANGE for an index past the array, ELOOP for a type that would contain
  // itself. An empty path is the whole value.
  result<btf_field> field(std::uint32_t id, std::string_view path) const;

  // The blob as parsed.
  std::span<const std::byte> raw() const noexcept;

 private:
  struct storage;
  explicit btf(std::unique_ptr<storage> s) noexcept;
  std::unique_ptr<storage> storage_;
};

// A map's BTF with its key and value type ids (map_info's btf_id,
// btf_key_type_id, btf_value_type_id): what an agent reads fields by name
// with. Maps created without BTF have none: ENODATA.
class BPFBATCH_API map_btf {
 public:
  static result<map_btf> of(const map& m);

  const btf& types() const noexcept { return types_; }
  std::uint32_t key_type() const noexcept { return key_type_; }      // 0 when the map names none
  std::uint32_t value_type() const noexcept { return value_type_; }  // 0 when the map names none

  result<btf_field> key_field(std::string_view path) const { return types_.field(key_type_, path); }
  result<btf_field> value_field(std::string_view path) const { return types_.field(value_type_, path); }

 private:
  map_btf(btf types, std::uint32_t key_type, std::uint32_t value_type) noexcept
      : types_(std::move(types)), key_type_(key_type), value_type_(value_type) {}
  btf types_;
  std::uint32_t key_type_;
  std::uint32_t value_type_;
};

template <class T>
std::optional<T> btf_field::read(std::span<const std::byte> value) const noexcept {
  static_assert(std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>);
  if (sizeof(T) != byte_size) return std::nullopt;
  if (bit_size == 0) {
    if (bit_offset % 8 != 0 || bit_offset / 8 > value.size() || value.size() - bit_offset / 8 < sizeof(T))
      return std::nullopt;
    T out;
    std::memcpy(&out, value.data() + bit_offset / 8, sizeof(T));
    return out;
  }
  if constexpr (std::is_integral_v<T>) {
    if (bit_size > 64 || bit_size > sizeof(T) * 8) return std::nullopt;
    const std::uint64_t first = bit_offset / 8, last = (bit_offset + bit_size - 1) / 8;
    if (last >= value.size()) return std::nullopt;
    std::uint64_t bits = 0;  // up to 9 bytes: take them one at a time
    for (std::uint64_t byte = first; byte <= last; ++byte) {
      const std::uint64_t shift = byte * 8;
      const auto b = std::uint64_t{std::to_integer<std::uint8_t>(value[byte])};
      if (shift >= bit_offset)
        bits |= shift - bit_offset < 64 ? b << (shift - bit_offset) : 0;
      else
        bits |= b >> (bit_offset - shift);
    }
    if (bit_size < 64) bits &= (std::uint64_t{1} << bit_size) - 1;
    if constexpr (std::is_signed_v<T>) {
      if (bit_size < 64 && (bits >> (bit_size - 1)) & 1) bits |= ~std::uint64_t{0} << bit_size;
    }
    return static_cast<T>(bits);
  } else {
    return std::nullopt;
  }
}

}  // namespace bpfbatch
