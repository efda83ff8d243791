#include "btf_builder.hpp"

#include <linux/bpf.h>
#include <linux/btf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <doctest/doctest.h>

namespace support {

namespace {

std::uint32_t info(std::uint32_t kind, std::uint32_t vlen, bool kind_flag) {
  return (kind_flag ? 1u << 31 : 0u) | (kind << 24) | (vlen & 0xffff);
}

}  // namespace

btf_builder::btf_builder() : strings_(1, '\0') {}

std::uint32_t btf_builder::add_string(std::string_view s) {
  if (s.empty()) return 0;
  std::string with_nul(s);
  with_nul.push_back('\0');
  if (auto at = strings_.find(with_nul); at != std::string::npos) return static_cast<std::uint32_t>(at);
  const auto at = static_cast<std::uint32_t>(strings_.size());
  strings_ += with_nul;
  return at;
}

std::uint32_t btf_builder::begin(std::string_view name, std::uint32_t kind, std::uint32_t vlen,
                                 bool kind_flag, std::uint32_t size_or_type) {
  words_.insert(words_.end(), {add_string(name), info(kind, vlen, kind_flag), size_or_type});
  return ++count_;
}

std::uint32_t btf_builder::add_int(std::string_view name, std::uint32_t size, std::uint32_t encoding,
                                   std::uint32_t bits, std::uint32_t bit_offset) {
  const auto id = begin(name, BTF_KIND_INT, 0, false, size);
  if (bits == 0) bits = size * 8;
  words_.push_back((encoding << 24) | ((bit_offset & 0xff) << 16) | (bits & 0xff));
  return id;
}

std::uint32_t btf_builder::add_pointer(std::uint32_t type) { return begin("", BTF_KIND_PTR, 0, false, type); }

std::uint32_t btf_builder::add_array(std::uint32_t element_type, std::uint32_t index_type,
                                     std::uint32_t count) {
  const auto id = begin("", BTF_KIND_ARRAY, 0, false, 0);
  words_.insert(words_.end(), {element_type, index_type, count});
  return id;
}

std::uint32_t btf_builder::add_composite(std::uint32_t kind, std::string_view name, std::uint32_t size,
                                         const std::vector<member>& members) {
  bool bitfields = false;
  for (const auto& m : members) bitfields = bitfields || m.bitfield_size != 0;
  const auto id = begin(name, kind, static_cast<std::uint32_t>(members.size()), bitfields, size);
  for (const auto& m : members) {
    const std::uint32_t offset =
        bitfields ? (m.bitfield_size << 24) | (m.bit_offset & 0xffffff) : m.bit_offset;
    words_.insert(words_.end(), {add_string(m.name), m.type, offset});
  }
  return id;
}

std::uint32_t btf_builder::add_struct(std::string_view name, std::uint32_t size,
                                      std::vector<member> members) {
  return add_composite(BTF_KIND_STRUCT, name, size, members);
}

std::uint32_t btf_builder::add_union(std::string_view name, std::uint32_t size, std::vector<member> members) {
  return add_composite(BTF_KIND_UNION, name, size, members);
}

std::uint32_t btf_builder::add_enum(std::string_view name, std::uint32_t size, std::vector<enumerator> values,
                                    bool is_signed) {
  const auto id = begin(name, BTF_KIND_ENUM, static_cast<std::uint32_t>(values.size()), is_signed, size);
  for (const auto& v : values)
    words_.insert(words_.end(),
                  {add_string(v.name), static_cast<std::uint32_t>(static_cast<std::uint64_t>(v.value))});
  return id;
}

std::uint32_t btf_builder::add_enum64(std::string_view name, std::uint32_t size,
                                      std::vector<enumerator> values, bool is_signed) {
  const auto id = begin(name, BTF_KIND_ENUM64, static_cast<std::uint32_t>(values.size()), is_signed, size);
  for (const auto& v : values) {
    const auto bits = static_cast<std::uint64_t>(v.value);
    words_.insert(words_.end(), {add_string(v.name), static_cast<std::uint32_t>(bits),
                                 static_cast<std::uint32_t>(bits >> 32)});
  }
  return id;
}

std::uint32_t btf_builder::add_fwd(std::string_view name, bool is_union) {
  return begin(name, BTF_KIND_FWD, 0, is_union, 0);
}

std::uint32_t btf_builder::add_typedef(std::string_view name, std::uint32_t type) {
  return begin(name, BTF_KIND_TYPEDEF, 0, false, type);
}

std::uint32_t btf_builder::add_volatile(std::uint32_t type) {
  return begin("", BTF_KIND_VOLATILE, 0, false, type);
}
std::uint32_t btf_builder::add_const(std::uint32_t type) { return begin("", BTF_KIND_CONST, 0, false, type); }
std::uint32_t btf_builder::add_restrict(std::uint32_t type) {
  return begin("", BTF_KIND_RESTRICT, 0, false, type);
}

std::uint32_t btf_builder::add_func(std::string_view name, std::uint32_t proto, std::uint32_t linkage) {
  return begin(name, BTF_KIND_FUNC, linkage, false, proto);
}

std::uint32_t btf_builder::add_func_proto(std::uint32_t return_type, std::vector<parameter> parameters) {
  const auto id =
      begin("", BTF_KIND_FUNC_PROTO, static_cast<std::uint32_t>(parameters.size()), false, return_type);
  for (const auto& p : parameters) words_.insert(words_.end(), {add_string(p.name), p.type});
  return id;
}

std::uint32_t btf_builder::add_var(std::string_view name, std::uint32_t type, std::uint32_t linkage) {
  const auto id = begin(name, BTF_KIND_VAR, 0, false, type);
  words_.push_back(linkage);
  return id;
}

std::uint32_t btf_builder::add_datasec(std::string_view name, std::uint32_t size,
                                       std::vector<section_variable> variables) {
  const auto id = begin(name, BTF_KIND_DATASEC, static_cast<std::uint32_t>(variables.size()), false, size);
  for (const auto& v : variables) words_.insert(words_.end(), {v.type, v.offset, v.size});
  return id;
}

std::uint32_t btf_builder::add_float(std::string_view name, std::uint32_t size) {
  return begin(name, BTF_KIND_FLOAT, 0, false, size);
}

std::uint32_t btf_builder::add_decl_tag(std::string_view name, std::uint32_t type,
                                        std::int32_t component_index) {
  const auto id = begin(name, BTF_KIND_DECL_TAG, 0, false, type);
  words_.push_back(static_cast<std::uint32_t>(component_index));
  return id;
}

std::uint32_t btf_builder::add_type_tag(std::string_view name, std::uint32_t type) {
  return begin(name, BTF_KIND_TYPE_TAG, 0, false, type);
}

std::uint32_t btf_builder::add_raw(std::initializer_list<std::uint32_t> words) {
  words_.insert(words_.end(), words);
  return ++count_;
}

std::vector<std::byte> btf_builder::blob() const {
  struct btf_header header {};
  header.magic = BTF_MAGIC;
  header.version = BTF_VERSION;
  header.hdr_len = sizeof(header);
  header.type_off = 0;
  header.type_len = static_cast<std::uint32_t>(words_.size() * 4);
  header.str_off = header.type_len;
  header.str_len = static_cast<std::uint32_t>(strings_.size());
  static_assert(sizeof(header) == header_size);
  std::vector<std::byte> out(sizeof(header) + header.type_len + header.str_len);
  std::memcpy(out.data(), &header, sizeof(header));
  if (!words_.empty()) std::memcpy(out.data() + sizeof(header), words_.data(), header.type_len);
  std::memcpy(out.data() + sizeof(header) + header.type_len, strings_.data(), strings_.size());
  return out;
}

int btf_builder::try_load(const std::vector<std::byte>& blob, int* error, std::string* log) {
  static char buffer[65536];
  buffer[0] = '\0';
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.btf = reinterpret_cast<std::uintptr_t>(blob.data());
  attr.btf_size = static_cast<std::uint32_t>(blob.size());
  attr.btf_log_buf = reinterpret_cast<std::uintptr_t>(buffer);
  attr.btf_log_size = sizeof(buffer);
  attr.btf_log_level = 1;
  const long fd = ::syscall(__NR_bpf, BPF_BTF_LOAD, &attr, sizeof(attr));
  const int saved = errno;
  if (fd < 0) {
    if (error) *error = saved;
    if (log) *log = buffer;
    return -1;
  }
  if (error) *error = 0;
  if (log) *log = buffer;
  return static_cast<int>(fd);
}

bpfbatch::unique_fd btf_builder::load() const {
  int error = 0;
  std::string log;
  const auto raw = blob();
  const int fd = try_load(raw, &error, &log);
  INFO("BPF_BTF_LOAD: ", std::strerror(error), "\n", log);
  REQUIRE(fd >= 0);
  return bpfbatch::unique_fd(fd);
}

bpfbatch::map btf_builder::create_map(bpfbatch::map_type type, std::uint32_t key_size,
                                      std::uint32_t value_size, std::uint32_t max_entries,
                                      std::uint32_t key_type, std::uint32_t value_type) const {
  bpfbatch::unique_fd btf = load();
  bpfbatch::map_spec spec;
  spec.type = type;
  spec.key_size = key_size;
  spec.value_size = value_size;
  spec.max_entries = max_entries;
  spec.name = "btf_builder";
  spec.btf_fd = btf.get();
  spec.btf_key_type_id = key_type;
  spec.btf_value_type_id = value_type;
  auto m = bpfbatch::map::create(spec);
  INFO("creating a map with BTF: ", m ? std::string() : m.error().message());
  REQUIRE(m);
  return std::move(*m);  // the map holds its own reference to the BTF object
}

}  // namespace support
