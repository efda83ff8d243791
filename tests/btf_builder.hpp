// btf_builder: a test-only writer of raw BTF blobs (include/uapi/linux/btf.h
// layout), so that tests can describe exactly the types they need, hand the
// same bytes to the kernel (BPF_BTF_LOAD) and to bpfbatch::btf::parse, and
// compare. Independent of the library's reader on purpose: it writes the
// records word by word from the UAPI definitions.
//
// Usage:
//   support::btf_builder b;
//   auto u32 = b.add_int("unsigned int", 4);
//   auto key = b.add_struct("flow_key", 8, {{"src", u32, 0}, {"dst", u32, 32}});
//   std::vector<std::byte> raw = b.blob();           // header + types + strings
//   bpfbatch::unique_fd fd = b.load();               // BPF_BTF_LOAD or fail the test
//   bpfbatch::map m = b.create_map(bpfbatch::map_type::hash, 8, 4, 16, key, u32);
//
// Every add_* returns the new type's id (1 for the first type, 0 is void).
// Names are added to the string section (deduplicated; "" is offset 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <bpfbatch/map.hpp>
#include <bpfbatch/unique_fd.hpp>

namespace support {

class btf_builder {
 public:
  struct member {
    std::string_view name;  // "" for an anonymous struct/union member
    std::uint32_t type = 0;
    std::uint32_t bit_offset = 0;
    std::uint32_t bitfield_size = 0;  // non-zero makes the struct kind_flag (size << 24 | offset)
  };
  struct enumerator {
    std::string_view name;
    std::int64_t value = 0;  // ENUM keeps the low 32 bits; ENUM64 splits lo32/hi32
  };
  struct parameter {
    std::string_view name;  // "" and type 0 as the last parameter: "..."
    std::uint32_t type = 0;
  };
  struct section_variable {
    std::uint32_t type = 0;  // a VAR's id
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
  };
  // BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL.
  static constexpr std::uint32_t int_signed = 1, int_char = 2, int_bool = 4;

  btf_builder();

  // Adds s (once) to the string section; returns its offset.
  std::uint32_t add_string(std::string_view s);

  // INT: bits defaults to size * 8.
  std::uint32_t add_int(std::string_view name, std::uint32_t size, std::uint32_t encoding = 0,
                        std::uint32_t bits = 0, std::uint32_t bit_offset = 0);
  std::uint32_t add_pointer(std::uint32_t type);
  std::uint32_t add_array(std::uint32_t element_type, std::uint32_t index_type, std::uint32_t count);
  // kind_flag is set when any member has a bitfield_size.
  std::uint32_t add_struct(std::string_view name, std::uint32_t size, std::vector<member> members);
  std::uint32_t add_union(std::string_view name, std::uint32_t size, std::vector<member> members);
  // is_signed sets kind_flag (kernel 6.0+).
  std::uint32_t add_enum(std::string_view name, std::uint32_t size, std::vector<enumerator> values,
                         bool is_signed = false);
  std::uint32_t add_enum64(std::string_view name, std::uint32_t size, std::vector<enumerator> values,
                           bool is_signed = false);
  std::uint32_t add_fwd(std::string_view name, bool is_union = false);
  std::uint32_t add_typedef(std::string_view name, std::uint32_t type);
  std::uint32_t add_volatile(std::uint32_t type);
  std::uint32_t add_const(std::uint32_t type);
  std::uint32_t add_restrict(std::uint32_t type);
  // linkage: 0 static, 1 global, 2 extern (BTF_FUNC_*).
  std::uint32_t add_func(std::string_view name, std::uint32_t proto, std::uint32_t linkage = 1);
  std::uint32_t add_func_proto(std::uint32_t return_type, std::vector<parameter> parameters);
  // linkage: 0 static, 1 global (BTF_VAR_*).
  std::uint32_t add_var(std::string_view name, std::uint32_t type, std::uint32_t linkage = 1);
  std::uint32_t add_datasec(std::string_view name, std::uint32_t size,
                            std::vector<section_variable> variables);
  std::uint32_t add_float(std::string_view name, std::uint32_t size);
  // component_index -1: the tag is on the type itself.
  std::uint32_t add_decl_tag(std::string_view name, std::uint32_t type, std::int32_t component_index = -1);
  std::uint32_t add_type_tag(std::string_view name, std::uint32_t type);

  // Appends a record written by hand (for malformed-blob tests): the words
  // as they go into the type section. Returns the id it would have.
  std::uint32_t add_raw(std::initializer_list<std::uint32_t> words);

  std::uint32_t type_count() const { return count_; }

  // The raw blob: a 24-byte struct btf_header, the type section, then the
  // string section (type_off 0, str_off = type_len).
  std::vector<std::byte> blob() const;
  // Offsets inside blob() of the sections, for tests that corrupt them.
  static constexpr std::size_t header_size = 24;
  std::size_t type_section_size() const { return words_.size() * 4; }
  std::size_t string_section_size() const { return strings_.size(); }

  // BPF_BTF_LOAD of blob() with a verifier log; fails the test (the log in
  // the message) when the kernel refuses.
  bpfbatch::unique_fd load() const;
  // BPF_BTF_LOAD without failing: the fd, or -1 with error set to errno and
  // log to the kernel's log.
  static int try_load(const std::vector<std::byte>& blob, int* error = nullptr, std::string* log = nullptr);

  // Loads the blob and creates a map described by it (map_spec.btf_fd and
  // the key and value type ids); fails the test when either step fails.
  bpfbatch::map create_map(bpfbatch::map_type type, std::uint32_t key_size, std::uint32_t value_size,
                           std::uint32_t max_entries, std::uint32_t key_type, std::uint32_t value_type) const;

 private:
  std::uint32_t begin(std::string_view name, std::uint32_t kind, std::uint32_t vlen, bool kind_flag,
                      std::uint32_t size_or_type);
  std::uint32_t add_composite(std::uint32_t kind, std::string_view name, std::uint32_t size,
                              const std::vector<member>& members);
  std::vector<std::uint32_t> words_;
  std::string strings_;
  std::uint32_t count_ = 0;
};

}  // namespace support
