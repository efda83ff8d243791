#include <bpfbatch/btf.hpp>

#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <bpfbatch/error.hpp>
#include <bpfbatch/map.hpp>
#include <bpfbatch/unique_fd.hpp>

#include "syscall.hpp"

namespace bpfbatch {

namespace {

// include/uapi/linux/btf.h: struct btf_header is 24 bytes (magic, version,
// flags, hdr_len, then type_off, type_len, str_off, str_len, relative to the
// end of the header).
constexpr std::uint16_t btf_magic = 0xeB9F;
constexpr std::uint8_t btf_version = 1;
constexpr std::uint32_t header_size = 24;
constexpr std::uint32_t record_size = 12;  // struct btf_type
constexpr std::uint32_t max_kind = 19;     // BTF_KIND_ENUM64
// btf_type.info: vlen in bits 0-15, kind in 24-28, kind_flag in 31; the
// kernel's btf_check_meta() refuses the others set ("Invalid btf_info").
constexpr std::uint32_t info_reserved_bits = 0x60ff0000;
// What a BPF target's pointer takes (the kernel's btf_type_id_size()
// sizes a PTR as sizeof(void *) of the 64-bit kernels bpfbatch runs on).
constexpr std::uint64_t pointer_size = 8;

std::uint32_t load32(const std::byte* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

bool is_modifier(btf_kind k) noexcept {
  return k == btf_kind::type_alias || k == btf_kind::volatile_qualifier || k == btf_kind::const_qualifier ||
         k == btf_kind::restrict_qualifier || k == btf_kind::type_tag;
}

bool is_composite(btf_kind k) noexcept { return k == btf_kind::structure || k == btf_kind::union_type; }

bool refers_by_type(btf_kind k) noexcept {
  return is_modifier(k) || k == btf_kind::pointer || k == btf_kind::function ||
         k == btf_kind::function_prototype || k == btf_kind::variable || k == btf_kind::declaration_tag;
}

// The bytes each kind puts after its struct btf_type, per vlen item or in all.
std::uint32_t trailing_item_size(btf_kind k) noexcept {
  switch (k) {
    case btf_kind::structure:
    case btf_kind::union_type:
    case btf_kind::data_section:
    case btf_kind::enumeration64:
      return 12;
    case btf_kind::enumeration:
    case btf_kind::function_prototype:
      return 8;
    default:
      return 0;
  }
}

std::uint32_t trailing_fixed_size(btf_kind k) noexcept {
  switch (k) {
    case btf_kind::integer:
    case btf_kind::variable:
    case btf_kind::declaration_tag:
      return 4;
    case btf_kind::array:
      return 12;
    default:
      return 0;
  }
}

}  // namespace

// What a parsed btf owns (btf::storage, which the parser also fills).
struct btf_data {
  std::vector<std::byte> blob;
  const char* strings = nullptr;
  std::uint32_t strings_size = 0;
  std::vector<btf_type> types;  // id - 1
  std::vector<btf_member> members;
  std::vector<btf_enumerator> enumerators;
  std::vector<btf_parameter> parameters;
  std::vector<btf_section_variable> variables;
  // By id: a value of this type would contain itself (a struct holding an
  // array of itself, a typedef of itself): sizes and fields there are ELOOP.
  std::vector<std::uint8_t> loops;
};

struct btf::storage : btf_data {};

namespace {

// Decodes the header and the records into a storage, checking every read.
class parser {
 public:
  parser(btf_data& s, std::string_view* reason) : s_(s), reason_(reason) {}

  int run() {
    if (!header() || !records() || !references()) return EINVAL;
    find_loops();
    return 0;
  }

 private:
  bool fail(const char* why) {
    if (reason_) *reason_ = why;
    return false;
  }

  bool header();
  bool records();
  bool record(std::uint64_t& at, std::uint64_t end);
  bool trailing(btf_type& t, const std::byte* p, std::uint32_t vlen);
  bool name(std::uint32_t offset, std::string_view& out);
  bool references();
  void find_loops();

  btf_data& s_;
  std::string_view* reason_;
  std::uint64_t types_begin_ = 0, types_end_ = 0;
  // Where each record's vlen items start in the storage's vectors, fixed up
  // into spans once the vectors stop growing.
  struct items {
    std::uint32_t first = 0, count = 0;
  };
  std::vector<items> items_;
};

bool parser::header() {
  const auto& b = s_.blob;
  if (b.size() < header_size) return fail("blob shorter than a BTF header");
  std::uint16_t magic;
  std::memcpy(&magic, b.data(), sizeof(magic));
  if (magic != btf_magic) return fail("not BTF: wrong magic");
  if (std::to_integer<std::uint8_t>(b[2]) != btf_version) return fail("unsupported BTF version");
  if (std::to_integer<std::uint8_t>(b[3]) != 0) return fail("unsupported BTF header flags");
  const std::uint64_t hdr_len = load32(b.data() + 4);
  if (hdr_len < header_size) return fail("BTF header length below 24");
  if (hdr_len > b.size()) return fail("BTF header length past the blob");
  // A longer header from a newer writer: the kernel's btf_parse_hdr()
  // accepts it only when the fields it does not know are zero.
  for (std::uint64_t i = header_size; i < hdr_len; ++i)
    if (b[i] != std::byte{0}) return fail("unknown BTF header fields set");
  const std::uint64_t type_off = load32(b.data() + 8), type_len = load32(b.data() + 12);
  const std::uint64_t str_off = load32(b.data() + 16), str_len = load32(b.data() + 20);
  const std::uint64_t data_size = b.size() - hdr_len;  // 64-bit sums cannot wrap
  if (type_off + type_len > data_size) return fail("type section past the blob");
  if (str_off + str_len > data_size) return fail("string section past the blob");
  if (type_off % 4 != 0) return fail("type section not 4-byte aligned");
  if (type_len != 0 && str_len != 0 && type_off < str_off + str_len && str_off < type_off + type_len)
    return fail("type and string sections overlap");
  // btf_parse_str_sec(): the first string is "" and the last ends the section.
  if (str_len == 0) return fail("empty string section");
  s_.strings = reinterpret_cast<const char*>(b.data() + hdr_len + str_off);
  s_.strings_size = static_cast<std::uint32_t>(str_len);
  if (s_.strings[0] != '\0') return fail("string section does not start with an empty string");
  if (s_.strings[str_len - 1] != '\0') return fail("string section not NUL-terminated");
  types_begin_ = hdr_len + type_off;
  types_end_ = types_begin_ + type_len;
  return true;
}

bool parser::name(std::uint32_t offset, std::string_view& out) {
  if (offset >= s_.strings_size) return fail("string offset past the string section");
  out = std::string_view(s_.strings + offset);  // the section ends in NUL
  return true;
}

bool parser::records() {
  std::uint64_t at = types_begin_;
  while (at < types_end_)
    if (!record(at, types_end_)) return false;
  for (std::size_t i = 0; i < s_.types.size(); ++i) {
    auto& t = s_.types[i];
    const auto [first, n] = items_[i];
    if (is_composite(t.kind)) t.members = {s_.members.data() + first, n};
    if (t.kind == btf_kind::enumeration || t.kind == btf_kind::enumeration64)
      t.enumerators = {s_.enumerators.data() + first, n};
    if (t.kind == btf_kind::function_prototype) t.parameters = {s_.parameters.data() + first, n};
    if (t.kind == btf_kind::data_section) t.variables = {s_.variables.data() + first, n};
  }
  return true;
}

bool parser::record(std::uint64_t& at, std::uint64_t end) {
  if (end - at < record_size) return fail("type record past the type section");
  const std::byte* p = s_.blob.data() + at;
  const std::uint32_t info = load32(p + 4);
  if (info & info_reserved_bits) return fail("reserved bits set in a type's info");
  const std::uint32_t kind = (info >> 24) & 0x1f;
  if (kind == 0 || kind > max_kind) return fail("unknown type kind");
  btf_type t;
  t.id = static_cast<std::uint32_t>(s_.types.size() + 1);
  t.kind = static_cast<btf_kind>(kind);
  t.kind_flag = (info >> 31) != 0;
  if (!name(load32(p), t.name)) return false;
  const std::uint32_t size_or_type = load32(p + 8);
  if (refers_by_type(t.kind))
    t.type = size_or_type;
  else
    t.size = size_or_type;
  const std::uint32_t vlen = info & 0xffff;
  const std::uint64_t extra = trailing_fixed_size(t.kind) + std::uint64_t{vlen} * trailing_item_size(t.kind);
  if (end - at - record_size < extra) return fail("type record's trailing data past the type section");
  if (t.kind == btf_kind::function) t.linkage = vlen;
  if (!trailing(t, p + record_size, vlen)) return false;
  at += record_size + extra;
  if (s_.types.size() >= 0xffffffffu - 1) return fail("too many types");
  s_.types.push_back(t);
  return true;
}

// Decodes what follows the record; the caller checked that it is there.
// Spans are set in records(), once the vectors stop growing.
bool parser::trailing(btf_type& t, const std::byte* p, std::uint32_t vlen) {
  std::uint32_t first = 0;
  switch (t.kind) {
    case btf_kind::integer: {
      const std::uint32_t v = load32(p);
      t.encoding = static_cast<btf_int_encoding>((v >> 24) & 0x0f);
      t.int_bit_offset = static_cast<std::uint8_t>(v >> 16);
      t.int_bits = static_cast<std::uint8_t>(v);
      break;
    }
    case btf_kind::array:
      t.element_type = load32(p);
      t.index_type = load32(p + 4);
      t.element_count = load32(p + 8);
      break;
    case btf_kind::variable:
      t.linkage = load32(p);
      break;
    case btf_kind::declaration_tag:
      t.component_index = static_cast<std::int32_t>(load32(p));
      break;
    case btf_kind::structure:
    case btf_kind::union_type:
      first = static_cast<std::uint32_t>(s_.members.size());
      for (std::uint32_t i = 0; i < vlen; ++i, p += 12) {
        btf_member m;
        if (!name(load32(p), m.name)) return false;
        m.type = load32(p + 4);
        const std::uint32_t offset = load32(p + 8);
        // kind_flag: bitfield size in the top 8 bits (BTF_MEMBER_BITFIELD_SIZE).
        m.bit_offset = t.kind_flag ? offset & 0xffffff : offset;
        m.bitfield_size = t.kind_flag ? offset >> 24 : 0;
        s_.members.push_back(m);
      }
      break;
    case btf_kind::enumeration:
    case btf_kind::enumeration64: {
      first = static_cast<std::uint32_t>(s_.enumerators.size());
      const bool wide = t.kind == btf_kind::enumeration64;
      for (std::uint32_t i = 0; i < vlen; ++i, p += wide ? 12 : 8) {
        btf_enumerator e;
        if (!name(load32(p), e.name)) return false;
        e.value = load32(p + 4);
        if (wide) e.value |= std::uint64_t{load32(p + 8)} << 32;
        s_.enumerators.push_back(e);
      }
      break;
    }
    case btf_kind::function_prototype:
      first = static_cast<std::uint32_t>(s_.parameters.size());
      for (std::uint32_t i = 0; i < vlen; ++i, p += 8) {
        btf_parameter param;
        if (!name(load32(p), param.name)) return false;
        param.type = load32(p + 4);
        s_.parameters.push_back(param);
      }
      break;
    case btf_kind::data_section:
      first = static_cast<std::uint32_t>(s_.variables.size());
      for (std::uint32_t i = 0; i < vlen; ++i, p += 12)
        s_.variables.push_back({load32(p), load32(p + 4), load32(p + 8)});
      break;
    default:
      break;
  }
  items_.push_back({first, trailing_item_size(t.kind) != 0 ? vlen : 0});
  return true;
}

bool parser::references() {
  const auto count = static_cast<std::uint32_t>(s_.types.size());
  auto ok = [count](std::uint32_t id) { return id <= count; };
  for (const auto& t : s_.types) {
    bool good = ok(t.type) && ok(t.element_type) && ok(t.index_type);
    for (const auto& m : t.members) good = good && ok(m.type);
    for (const auto& p : t.parameters) good = good && ok(p.type);
    for (const auto& v : t.variables) good = good && ok(v.type);
    if (!good) return fail("type id past the last type");
  }
  return true;
}

// The i-th type a value of t holds within its own bytes (not through a
// pointer); false past the last.
bool contained(const btf_type& t, std::size_t i, std::uint32_t& out) noexcept {
  if (is_modifier(t.kind) || t.kind == btf_kind::variable) {
    out = t.type;
    return i == 0;
  }
  if (t.kind == btf_kind::array) {
    out = t.element_type;
    return i == 0;
  }
  if (i < t.members.size()) {
    out = t.members[i].type;
    return true;
  }
  if (i < t.variables.size()) {
    out = t.variables[i].type;
    return true;
  }
  return false;
}

// Marks the types from which a containment cycle can be reached, with an
// iterative depth-first search (a blob may chain a million records: no
// recursion). The kernel's btf_resolve() refuses such blobs ("Loop
// detected"); keeping them parsed lets the rest of a blob be read.
void parser::find_loops() {
  const std::size_t n = s_.types.size() + 1;
  s_.loops.assign(n, 0);
  std::vector<std::uint8_t> state(n, 0);  // 0 unseen, 1 on the stack, 2 done
  std::vector<std::pair<std::uint32_t, std::uint32_t>> stack;
  for (std::uint32_t root = 1; root < n; ++root) {
    if (state[root]) continue;
    stack.push_back({root, 0});
    state[root] = 1;
    while (!stack.empty()) {
      auto& [id, next] = stack.back();
      std::uint32_t child = 0;
      if (!contained(s_.types[id - 1], next, child)) {
        state[id] = 2;
        const std::uint32_t done = id;
        stack.pop_back();
        if (!stack.empty() && s_.loops[done]) s_.loops[stack.back().first] = 1;
        continue;
      }
      ++next;
      if (child == 0) continue;  // void holds nothing
      if (state[child] == 1) {
        s_.loops[id] = 1;
      } else if (state[child] == 2) {
        if (s_.loops[child]) s_.loops[id] = 1;
      } else {
        state[child] = 1;
        stack.push_back({child, 0});
      }
    }
  }
}

}  // namespace

std::string_view btf_kind_name(btf_kind kind) noexcept {
  // bpftool's btf_kind_str[] and the kernel's btf_kind_str[].
  static constexpr std::string_view names[] = {"UNKNOWN", "INT",      "PTR",      "ARRAY",      "STRUCT",
                                               "UNION",   "ENUM",     "FWD",      "TYPEDEF",    "VOLATILE",
                                               "CONST",   "RESTRICT", "FUNC",     "FUNC_PROTO", "VAR",
                                               "DATASEC", "FLOAT",    "DECL_TAG", "TYPE_TAG",   "ENUM64"};
  const auto k = static_cast<std::size_t>(kind);
  return k < std::size(names) ? names[k] : "UNKNOWN";
}

btf::btf(std::unique_ptr<storage> s) noexcept : storage_(std::move(s)) {}
btf::btf(btf&&) noexcept = default;
btf& btf::operator=(btf&&) noexcept = default;
btf::~btf() = default;

result<btf> btf::parse(std::span<const std::byte> blob, std::string_view* reason) {
  auto s = std::make_unique<storage>();
  s->blob.assign(blob.begin(), blob.end());
  if (int err = parser(*s, reason).run()) return make_error(err);
  return btf(std::move(s));
}

// A moved-from btf has no storage: it holds no types (test_api_safety.cpp:
// moved-from objects can be used, never corrupt memory).
std::uint32_t btf::type_count() const noexcept {
  return storage_ ? static_cast<std::uint32_t>(storage_->types.size()) : 0;
}

const btf_type* btf::type(std::uint32_t id) const noexcept {
  if (!storage_ || id == 0 || id > storage_->types.size()) return nullptr;
  return &storage_->types[id - 1];
}

std::span<const std::byte> btf::raw() const noexcept {
  if (!storage_) return {};
  return storage_->blob;
}

result<std::uint32_t> btf::resolve(std::uint32_t id) const noexcept {
  if (id > type_count()) return make_error(EINVAL);
  // Each step follows one record: more steps than records is a cycle.
  for (std::uint64_t steps = 0; steps <= type_count(); ++steps) {
    const btf_type* t = type(id);
    if (t == nullptr || !is_modifier(t->kind)) return id;
    id = t->type;
  }
  return make_error(ELOOP);
}

result<std::uint64_t> btf::size_of(std::uint32_t id) const noexcept {
  if (!storage_ || id > type_count()) return make_error(EINVAL);
  if (storage_->loops[id]) return make_error(ELOOP);
  std::uint64_t count = 1;  // elements of the arrays passed through
  for (std::uint64_t steps = 0; steps <= type_count(); ++steps) {
    auto resolved = resolve(id);
    if (!resolved) return resolved.error();
    const btf_type* t = type(*resolved);
    if (t == nullptr) return make_error(EINVAL);  // void
    std::uint64_t size = 0;
    switch (t->kind) {
      case btf_kind::integer:
      case btf_kind::structure:
      case btf_kind::union_type:
      case btf_kind::enumeration:
      case btf_kind::enumeration64:
      case btf_kind::data_section:
      case btf_kind::floating_point:
        size = t->size;
        break;
      case btf_kind::pointer:
        size = pointer_size;
        break;
      case btf_kind::array:
        if (__builtin_mul_overflow(count, std::uint64_t{t->element_count}, &count))
          return make_error(EOVERFLOW);
        id = t->element_type;
        continue;
      case btf_kind::variable:
        id = t->type;
        continue;
      default:
        return make_error(EINVAL);
    }
    if (__builtin_mul_overflow(count, size, &size)) return make_error(EOVERFLOW);
    return size;
  }
  return make_error(ELOOP);
}

namespace {

// C declarators built inside out: `inner` is what stands to the right of
// the type's name so far ("*", "[16]", "(*)[4]"). budget bounds the work on
// pointer cycles and deep chains, which the kernel would refuse but a blob
// handed to parse may hold.
class namer {
 public:
  explicit namer(const btf& types) : types_(types) {}

  std::string declare(std::uint32_t id, std::string inner);

 private:
  static std::string joined(std::string_view base, const std::string& inner) {
    std::string out(base);
    if (!inner.empty()) {
      // "char[16]", "int(void)", but "char (*)[16]" and "int *".
      if (inner.front() != '[' && (inner.front() != '(' || inner.rfind("(*", 0) == 0)) out += ' ';
      out += inner;
    }
    return out;
  }
  std::string tagged(std::string_view keyword, std::string_view name, const std::string& inner) {
    std::string base(keyword);
    base += ' ';
    base += name.empty() ? "{...}" : name;
    return joined(base, inner);
  }
  std::string prototype(const btf_type& t, std::string inner);
  std::string qualified(const btf_type& t, std::string inner);

  const btf& types_;
  int budget_ = 64;
};

std::string namer::declare(std::uint32_t id, std::string inner) {
  if (--budget_ < 0) return joined("...", inner);
  const btf_type* t = types_.type(id);
  if (t == nullptr) return joined(id == 0 ? "void" : "<invalid>", inner);
  switch (t->kind) {
    case btf_kind::structure:
      return tagged("struct", t->name, inner);
    case btf_kind::union_type:
      return tagged("union", t->name, inner);
    case btf_kind::enumeration:
    case btf_kind::enumeration64:
      return tagged("enum", t->name, inner);
    case btf_kind::forward_declaration:
      return tagged(t->kind_flag ? "union" : "struct", t->name, inner);
    case btf_kind::pointer: {
      const btf_type* target = types_.type(t->type);
      const bool parens =
          target && (target->kind == btf_kind::array || target->kind == btf_kind::function_prototype);
      return declare(t->type, parens ? "(*" + inner + ")" : "*" + inner);
    }
    case btf_kind::array:
      return declare(t->element_type, inner + "[" + std::to_string(t->element_count) + "]");
    case btf_kind::volatile_qualifier:
    case btf_kind::const_qualifier:
    case btf_kind::restrict_qualifier:
      return qualified(*t, std::move(inner));
    case btf_kind::type_tag:
      return declare(t->type, std::move(inner));
    case btf_kind::function_prototype:
      return prototype(*t, std::move(inner));
    case btf_kind::function:
    case btf_kind::variable:
      return declare(t->type, std::string(t->name) + (inner.empty() ? "" : " ") + inner);
    default:  // INT, TYPEDEF, FLOAT, DATASEC, DECL_TAG: their own names
      return joined(t->name.empty() ? "<anonymous>" : t->name, inner);
  }
}

// "const int", but "int *const": a qualifier of a pointer follows its star.
std::string namer::qualified(const btf_type& t, std::string inner) {
  const std::string_view word = t.kind == btf_kind::const_qualifier      ? "const"
                                : t.kind == btf_kind::volatile_qualifier ? "volatile"
                                                                         : "restrict";
  const btf_type* target = types_.type(t.type);
  if (target && target->kind == btf_kind::pointer)
    return declare(t.type, std::string(word) + (inner.empty() ? "" : " ") + inner);
  return std::string(word) + " " + declare(t.type, std::move(inner));
}

std::string namer::prototype(const btf_type& t, std::string inner) {
  std::string params = "(";
  for (std::size_t i = 0; i < t.parameters.size(); ++i) {
    if (i) params += ", ";
    if (budget_ <= 0) {  // a prototype of 65535 parameters: name a few
      params += "...";
      break;
    }
    const auto& p = t.parameters[i];
    params +=
        p.type == 0 && i + 1 == t.parameters.size() ? std::string("...") : declare(p.type, std::string());
  }
  params += t.parameters.empty() ? "void)" : ")";
  return declare(t.type, inner + params);
}

}  // namespace

std::string btf::name_of(std::uint32_t id) const { return namer(*this).declare(id, std::string()); }

namespace {

// A path component: a member name, or an array index.
struct path_step {
  std::string_view name;
  std::uint64_t index = 0;
  bool is_index = false;
};

bool identifier_char(char c, bool first) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9');
}

// Splits "a.b[3][1].c" into steps; false for a malformed path.
bool split_path(std::string_view path, std::vector<path_step>& steps) {
  std::size_t i = 0;
  bool need_name = false;  // after a '.'
  while (i < path.size()) {
    if (path[i] == '[') {
      if (need_name) return false;
      std::size_t j = i + 1;
      std::uint64_t value = 0;
      while (j < path.size() && path[j] >= '0' && path[j] <= '9') {
        if (__builtin_mul_overflow(value, 10u, &value) ||
            __builtin_add_overflow(value, static_cast<unsigned>(path[j] - '0'), &value))
          return false;
        ++j;
      }
      if (j == i + 1 || j >= path.size() || path[j] != ']') return false;
      steps.push_back({{}, value, true});
      i = j + 1;
      continue;
    }
    if (path[i] == '.') {
      if (steps.empty() || need_name) return false;
      need_name = true;
      ++i;
      continue;
    }
    if (!steps.empty() && !need_name) return false;  // "a[1]b"
    std::size_t j = i;
    while (j < path.size() && identifier_char(path[j], j == i)) ++j;
    if (j == i) return false;
    steps.push_back({path.substr(i, j - i), 0, false});
    need_name = false;
    i = j;
  }
  return !need_name;
}

// Anonymous members nest no deeper than this in any C source; deeper is an
// adversarial blob, refused rather than recursed into. The visits are
// bounded too: anonymous members that each hold two of the next level's
// would otherwise make a lookup take 2^depth steps.
constexpr int max_anonymous_depth = 32;
constexpr int max_member_lookups = 4096;

}  // namespace

// Finds member `name` of the struct or union `id`, looking through
// anonymous members; offset accumulates bits from the value's start.
static int find_member(const btf& types, std::uint32_t id, std::string_view name, std::uint64_t& offset,
                       const btf_member*& found, bool& legacy_bitfield_base, int depth, int& budget) {
  if (depth > max_anonymous_depth || --budget < 0) return ELOOP;
  auto resolved = types.resolve(id);
  if (!resolved) return resolved.error().value();
  const btf_type* t = types.type(*resolved);
  if (t == nullptr || !is_composite(t->kind)) return ENOENT;
  for (const auto& m : t->members) {
    if (m.name == name) {
      offset += m.bit_offset;
      found = &m;
      legacy_bitfield_base = !t->kind_flag;
      return 0;
    }
  }
  for (const auto& m : t->members) {
    if (!m.name.empty()) continue;
    std::uint64_t inner = offset + m.bit_offset;
    const int err = find_member(types, m.type, name, inner, found, legacy_bitfield_base, depth + 1, budget);
    if (err == 0) offset = inner;
    if (err != ENOENT) return err;
  }
  return ENOENT;
}

result<btf_field> btf::field(std::uint32_t id, std::string_view path) const {
  std::vector<path_step> steps;
  if (!split_path(path, steps)) return make_error(EINVAL);
  if (!storage_ || id > type_count()) return make_error(EINVAL);
  if (storage_->loops[id]) return make_error(ELOOP);
  btf_field f;
  f.type = id;
  for (const auto& step : steps) {
    if (f.bit_size != 0) return make_error(ENOENT);  // a bitfield has no members or elements
    if (step.is_index) {
      auto resolved = resolve(f.type);
      if (!resolved) return resolved.error();
      const btf_type* t = type(*resolved);
      if (t == nullptr || t->kind != btf_kind::array) return make_error(EINVAL);
      if (step.index >= t->element_count) return make_error(ERANGE);
      auto element = size_of(t->element_type);
      if (!element) return element.error();
      std::uint64_t bits = 0;
      if (__builtin_mul_overflow(step.index, *element, &bits) || __builtin_mul_overflow(bits, 8u, &bits) ||
          __builtin_add_overflow(f.bit_offset, bits, &f.bit_offset))
        return make_error(EOVERFLOW);
      f.type = t->element_type;
      continue;
    }
    const btf_member* m = nullptr;
    bool legacy = false;
    std::uint64_t offset = f.bit_offset;
    int budget = max_member_lookups;
    if (int err = find_member(*this, f.type, step.name, offset, m, legacy, 0, budget)) return make_error(err);
    f.bit_offset = offset;
    f.type = m->type;
    f.bit_size = m->bitfield_size;
    // Without kind_flag a bitfield is an INT whose BTF_INT_BITS is narrower
    // than its size (btf_struct_check_member(), btf_int_check_member()).
    if (legacy) {
      auto resolved = resolve(m->type);
      const btf_type* t = resolved ? type(*resolved) : nullptr;
      if (t && t->kind == btf_kind::integer && (t->int_bit_offset != 0 || t->int_bits != t->size * 8ull)) {
        f.bit_offset += t->int_bit_offset;
        f.bit_size = t->int_bits;
      }
    }
  }
  auto size = size_of(f.type);
  if (!size) return size.error();
  f.byte_size = *size;
  return f;
}

result<btf> btf::from_kernel(std::uint32_t btf_id) {
  int raw_fd = -1;
  if (int err = sys::btf_get_fd_by_id(btf_id, raw_fd)) return make_error(err);
  unique_fd fd(raw_fd);
  // btf_get_info_by_fd() reports the object's size and copies at most the
  // size we give: ask for the size first, then for the bytes.
  bpf_btf_info info{};
  std::uint32_t length = sizeof(info);
  if (int err = sys::obj_get_info_by_fd(fd.get(), &info, length)) return make_error(err);
  const std::uint32_t size = info.btf_size;
  std::vector<std::byte> data(size);
  info = bpf_btf_info{};
  info.btf = reinterpret_cast<std::uintptr_t>(data.data());
  info.btf_size = size;
  length = sizeof(info);
  if (int err = sys::obj_get_info_by_fd(fd.get(), &info, length)) return make_error(err);
  // A BTF object is immutable once loaded: another size means this is not
  // the object the first call described.
  if (info.btf_size != size) return make_error(EIO);
  return parse(data);
}

result<map_btf> map_btf::of(const map& m) {
  const auto& info = m.info();
  if (info.btf_id == 0) return make_error(ENODATA);
  auto types = btf::from_kernel(info.btf_id);
  if (!types) return types.error();
  return map_btf(std::move(*types), info.btf_key_type_id, info.btf_value_type_id);
}

}  // namespace bpfbatch
