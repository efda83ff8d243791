// btf_formatter: bpftool's btf_dumper.c, split into a plan made once per type
// and a walk over it per value. Where a choice is bpftool's, the comment names
// the btf_dumper.c function that makes it.
#include <bpfbatch/btf_format.hpp>

#include <bpfbatch/error.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

namespace bpfbatch {

namespace {

enum class op : std::uint8_t {
  u8,
  u16,
  u32,
  u64,
  s8,
  s16,
  s32,
  s64,
  bits,       // btf_dumper_bitfield: width bits from bit, printed as hex
  character,  // BTF_INT_CHAR
  boolean,
  pointer,
  enum32,
  enum64,
  float16,
  float32,
  float64,
  float_wide,  // 12 or 16 bytes: printed as the hex of its bits (no portable type)
  record,      // STRUCT, UNION
  array,
  variable,  // VAR
  section,   // DATASEC
};

struct node {
  op code = op::u8;
  bool string_candidate = false;  // array: char elements (is_str_array's type test)
  std::uint8_t bit = 0;           // bits: first bit in the first byte
  std::uint32_t offset = 0;       // bytes from the enclosing value's start
  std::uint32_t size = 0;         // enum: bytes; array: element stride; bits: width
  std::uint32_t first =
      0;  // record, section: index in children; array, variable: child node; enum: in enumerators
  std::uint32_t count = 0;  // record, section: children; array: elements; enum: enumerators
  std::uint32_t label = 0;  // the quoted, escaped name under which the parent prints it (in strings)
  std::uint32_t label_size = 0;
};

struct enumerator_entry {
  std::uint64_t value = 0;  // enum32: sign-extended from 32 bits, as btf_dumper_enum compares
  std::uint32_t name = 0;   // quoted, escaped (in strings)
  std::uint32_t name_size = 0;
};

constexpr unsigned max_nesting = 32;
constexpr std::size_t max_nodes = 65'536;

// jsonw_puts (json_writer.c) in bpftool after 7.1: \t \n \r \f \b \\ \" are
// escaped, the rest is copied. Other control characters, which bpftool copies
// raw (invalid JSON; the kernel's BTF names never hold them), are \u00XX.
void append_quoted(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : text) {
    switch (c) {
      case '\t':
        out.append("\\t");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out.append("\\u00");
          out.push_back(hex[(c >> 4) & 0xf]);
          out.push_back(hex[c & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace

struct btf_formatter::plan {
  std::vector<node> nodes;
  std::vector<std::uint32_t> children;
  std::vector<enumerator_entry> enumerators;
  std::string strings;
  std::size_t value_size = 0;
};

namespace {

class planner {
 public:
  planner(const btf& types, btf_formatter::plan& p) : types_(types), p_(p) {}

  // A node for a value of type id at offset in its parent, with room bytes
  // from there to the parent's end; shift: the bits past offset at which it
  // starts (a member that is not byte-aligned, btf_dumper_struct).
  result<std::uint32_t> build(std::uint32_t id, std::uint64_t offset, std::uint64_t room, unsigned shift,
                              unsigned nesting);

  std::uint32_t add_string(std::string_view text, std::uint32_t& size) {
    const auto at = static_cast<std::uint32_t>(p_.strings.size());
    append_quoted(p_.strings, text);
    size = static_cast<std::uint32_t>(p_.strings.size() - at);
    return at;
  }

 private:
  static std::error_code error(int e) { return make_error(e); }
  result<std::uint32_t> add(node n) {
    if (p_.nodes.size() >= max_nodes) return error(E2BIG);
    p_.nodes.push_back(n);
    return static_cast<std::uint32_t>(p_.nodes.size() - 1);
  }
  result<std::uint32_t> integer(const btf_type& t, node n, std::uint64_t room, unsigned shift);
  result<std::uint32_t> enumeration(const btf_type& t, node n, std::uint64_t room);
  result<std::uint32_t> floating(const btf_type& t, node n, std::uint64_t room);
  result<std::uint32_t> record(const btf_type& t, node n, std::uint64_t room, unsigned nesting);
  result<std::uint32_t> array(const btf_type& t, node n, std::uint64_t room, unsigned nesting);
  result<std::uint32_t> section(const btf_type& t, node n, std::uint64_t room, unsigned nesting);
  bool is_char(std::uint32_t element) const;

  const btf& types_;
  btf_formatter::plan& p_;
};

// btf_dumper_bitfield reads the bytes that hold bit..bit+width.
bool bits_fit(std::uint64_t bit, std::uint64_t width, std::uint64_t room) {
  return (bit + width + 7) / 8 <= room;
}

result<std::uint32_t> planner::integer(const btf_type& t, node n, std::uint64_t room, unsigned shift) {
  const unsigned width = t.int_bits, start = shift + t.int_bit_offset;
  if (width > 128) return error(EINVAL);
  // btf_dumper_int: anything not byte-aligned and whole bytes is a bitfield,
  // as are widths other than 8, 16, 32 and 64 (BTF_INT_BITS 24).
  const bool whole = width == 8 || width == 16 || width == 32 || width == 64;
  // Encodings the kernel refuses (two bits set) print as unsigned numbers.
  const bool plain_int = t.encoding != btf_int_encoding::is_char && t.encoding != btf_int_encoding::is_bool;
  if (start != 0 || width % 8 != 0 || width == 128 || (plain_int && !whole)) {
    n.code = op::bits;
    n.offset += start / 8;
    n.bit = static_cast<std::uint8_t>(start % 8);
    n.size = width;
    if (start / 8 > room || !bits_fit(n.bit, width, room - start / 8)) return error(EINVAL);
    return add(n);
  }
  std::uint64_t bytes = width / 8;
  if (t.encoding == btf_int_encoding::is_char || t.encoding == btf_int_encoding::is_bool) {
    n.code = t.encoding == btf_int_encoding::is_char ? op::character : op::boolean;
    bytes = 1;  // *(char *)data, *(bool *)data
  } else {
    const bool sign = t.encoding == btf_int_encoding::is_signed;
    static constexpr op unsigned_ops[] = {op::u8, op::u16, op::u32, op::u64};
    static constexpr op signed_ops[] = {op::s8, op::s16, op::s32, op::s64};
    const unsigned index = static_cast<unsigned>(std::countr_zero(bytes));
    n.code = sign ? signed_ops[index] : unsigned_ops[index];
  }
  if (bytes > room) return error(EINVAL);
  return add(n);
}

result<std::uint32_t> planner::enumeration(const btf_type& t, node n, std::uint64_t room) {
  // btf_dumper_enum reads 1, 2, 4 or 8 bytes (the kernel allows no other
  // size); btf_dumper_enum64 reads 8 whatever the size: we read the size.
  if (t.size == 0 || t.size > 8 || !std::has_single_bit(t.size) || t.size > room) return error(EINVAL);
  n.code = t.kind == btf_kind::enumeration ? op::enum32 : op::enum64;
  n.size = t.size;
  n.first = static_cast<std::uint32_t>(p_.enumerators.size());
  n.count = static_cast<std::uint32_t>(t.enumerators.size());
  for (const btf_enumerator& e : t.enumerators) {
    enumerator_entry entry;
    // struct btf_enum's val is an __s32, which btf_dumper_enum compares with
    // the value sign-extended to 64 bits.
    entry.value =
        n.code == op::enum32
            ? static_cast<std::uint64_t>(std::int64_t{static_cast<std::int32_t>(e.value & 0xffffffffu)})
            : e.value;
    entry.name = add_string(e.name, entry.name_size);
    p_.enumerators.push_back(entry);
  }
  return add(n);
}

result<std::uint32_t> planner::floating(const btf_type& t, node n, std::uint64_t room) {
  if (t.size > room) return error(EINVAL);
  switch (t.size) {
    case 2:
      n.code = op::float16;
      break;
    case 4:
      n.code = op::float32;
      break;
    case 8:
      n.code = op::float64;
      break;
    case 12:
    case 16:
      n.code = op::float_wide;
      n.size = t.size * 8;
      return add(n);
    default:
      return error(EINVAL);
  }
  return add(n);
}

result<std::uint32_t> planner::record(const btf_type& t, node n, std::uint64_t room, unsigned nesting) {
  if (t.size > room) return error(EINVAL);
  n.code = op::record;
  n.count = static_cast<std::uint32_t>(t.members.size());
  std::vector<std::uint32_t> members;
  members.reserve(t.members.size());
  for (const btf_member& m : t.members) {
    const std::uint64_t at = m.bit_offset / 8;
    if (at > t.size) return error(EINVAL);
    std::uint32_t child = 0;
    if (m.bitfield_size != 0) {
      // btf_dumper_struct: a kind_flag bitfield goes to btf_dumper_bitfield
      // whatever its type.
      node b;
      b.code = op::bits;
      b.offset = static_cast<std::uint32_t>(at);
      b.bit = static_cast<std::uint8_t>(m.bit_offset % 8);
      b.size = m.bitfield_size;
      if (m.bitfield_size > 128 || !bits_fit(b.bit, b.size, t.size - at)) return error(EINVAL);
      auto added = add(b);
      if (!added) return added.error();
      child = *added;
    } else {
      auto built = build(m.type, at, t.size - at, m.bit_offset % 8, nesting + 1);
      if (!built) return built.error();
      child = *built;
    }
    p_.nodes[child].label = add_string(m.name, p_.nodes[child].label_size);
    members.push_back(child);
  }
  n.first = static_cast<std::uint32_t>(p_.children.size());
  p_.children.insert(p_.children.end(), members.begin(), members.end());
  return add(n);
}

// is_str_array's test on the element type: modifiers are looked through but
// not typedefs, and it must be a 1-byte INT that is BTF_INT_CHAR or is named
// "char".
bool planner::is_char(std::uint32_t element) const {
  const btf_type* t = types_.type(element);
  for (unsigned hops = 0; t != nullptr && hops < max_nesting; ++hops) {
    if (t->kind != btf_kind::volatile_qualifier && t->kind != btf_kind::const_qualifier &&
        t->kind != btf_kind::restrict_qualifier && t->kind != btf_kind::type_tag)
      break;
    t = types_.type(t->type);
  }
  return t != nullptr && t->kind == btf_kind::integer && t->size == 1 &&
         (t->encoding == btf_int_encoding::is_char || t->name == "char");
}

result<std::uint32_t> planner::array(const btf_type& t, node n, std::uint64_t room, unsigned nesting) {
  auto element_size = types_.size_of(t.element_type);
  if (!element_size) return element_size.error();
  if (*element_size > std::numeric_limits<std::uint32_t>::max() ||
      (t.element_count != 0 && *element_size > room / t.element_count))
    return error(EINVAL);
  n.code = op::array;
  n.size = static_cast<std::uint32_t>(*element_size);
  n.count = t.element_count;
  n.string_candidate = t.element_count != 0 && is_char(t.element_type);
  auto element = build(t.element_type, 0, *element_size, 0, nesting + 1);
  if (!element) return element.error();
  n.first = *element;
  return add(n);
}

result<std::uint32_t> planner::section(const btf_type& t, node n, std::uint64_t room, unsigned nesting) {
  if (t.size > room) return error(EINVAL);
  n.code = op::section;
  n.count = static_cast<std::uint32_t>(t.variables.size());
  n.label = add_string(t.name, n.label_size);
  std::vector<std::uint32_t> variables;
  variables.reserve(t.variables.size());
  for (const btf_section_variable& v : t.variables) {
    if (v.offset > t.size) return error(EINVAL);
    auto child = build(v.type, v.offset, t.size - v.offset, 0, nesting + 1);
    if (!child) return child.error();
    variables.push_back(*child);
  }
  n.first = static_cast<std::uint32_t>(p_.children.size());
  p_.children.insert(p_.children.end(), variables.begin(), variables.end());
  return add(n);
}

result<std::uint32_t> planner::build(std::uint32_t id, std::uint64_t offset, std::uint64_t room,
                                     unsigned shift, unsigned nesting) {
  if (nesting > max_nesting) return error(E2BIG);
  const btf_type* t = types_.type(id);
  // btf_dumper_modifier: typedefs and qualifiers pass the bit offset on. A
  // TYPE_TAG is one more modifier here; bpftool prints "(unsupported-kind)".
  for (unsigned hops = 0; t != nullptr; ++hops) {
    if (t->kind != btf_kind::type_alias && t->kind != btf_kind::volatile_qualifier &&
        t->kind != btf_kind::const_qualifier && t->kind != btf_kind::restrict_qualifier &&
        t->kind != btf_kind::type_tag)
      break;
    if (hops == max_nesting) return error(ELOOP);
    t = types_.type(t->type);
  }
  if (t == nullptr) return error(EINVAL);
  node n;
  n.offset = static_cast<std::uint32_t>(offset);
  switch (t->kind) {
    case btf_kind::integer:
      return integer(*t, n, room, shift);
    case btf_kind::pointer:
      if (room < 8) return error(EINVAL);  // btf_dumper_ptr: an unsigned long
      n.code = op::pointer;
      return add(n);
    case btf_kind::enumeration:
    case btf_kind::enumeration64:
      return enumeration(*t, n, room);
    case btf_kind::floating_point:
      return floating(*t, n, room);
    case btf_kind::structure:
    case btf_kind::union_type:
      return record(*t, n, room, nesting);
    case btf_kind::array:
      return array(*t, n, room, nesting);
    case btf_kind::data_section:
      return section(*t, n, room, nesting);
    case btf_kind::variable: {
      n.code = op::variable;
      auto child = build(t->type, 0, room, shift, nesting + 1);
      if (!child) return child.error();
      n.first = *child;
      n.label = add_string(t->name, n.label_size);
      return add(n);
    }
    default:
      // void, FWD, FUNC, FUNC_PROTO, DECL_TAG: no value to print (bpftool
      // prints "(unknown)", "(fwd-kind-invalid)" or "(unsupported-kind)").
      return error(EINVAL);
  }
}

// The shortest decimal that reads back to v's bits: the fewest significant
// digits that strtod (strtof) turns into v again, as many as std::to_chars(v)
// prints. Not to_chars itself: libstdc++'s
// floating-point to_chars links its Ryu tables (about 120 KB) into the static
// tool, which must stay under 1 MiB, where printf and strtod cost a few KB.
// The C library's decimal point follows LC_NUMERIC, which a program using the
// library may have set: the round trip is checked in that locale and the
// point is written as '.', which JSON wants.
template <class T>
void shortest_decimal(T v, std::string& out) {
  const double wide = static_cast<double>(v);
  char buffer[64];
  int digits = 1;
  for (; digits < std::numeric_limits<T>::max_digits10; ++digits) {  // max_digits10 always reads back
    std::snprintf(buffer, sizeof(buffer), "%.*e", digits - 1, wide);
    T back;
    if constexpr (std::is_same_v<T, float>)
      back = std::strtof(buffer, nullptr);
    else
      back = std::strtod(buffer, nullptr);
    if (std::memcmp(&back, &v, sizeof(T)) == 0) break;
  }
  // Of the two forms of those digits, the shorter, the plain one on a tie
  // (std::to_chars's choice): "100" and not "1e+02", "1e-300" and not 301
  // zeros.
  const int scientific = std::snprintf(buffer, sizeof(buffer), "%.*e", digits - 1, wide);
  const char* e = static_cast<const char*>(std::memchr(buffer, 'e', sizeof(buffer)));
  const int exponent = e != nullptr ? std::atoi(e + 1) : 0;
  char plain[400];  // the longest: 5e-324, "0." and 323 more digits
  const int plain_length =
      std::snprintf(plain, sizeof(plain), "%.*f", std::max(digits - 1 - exponent, 0), wide);
  const bool use_plain = plain_length > 0 && plain_length <= scientific;
  const char* text = use_plain ? plain : buffer;
  const int length = use_plain ? plain_length : scientific;
  if (length <= 0) return;  // snprintf cannot fail on these formats
  bool point_written = false;
  for (int i = 0; i < length; ++i) {
    const char c = text[i];
    if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e') {
      out.push_back(c);
    } else if (!point_written) {  // the locale's decimal point, maybe several bytes
      out.push_back('.');
      point_written = true;
    }
  }
}

// The walk. Text (bpftool's pretty json_writer) differs from compact JSON in
// three ways: a name is followed by ": " and preceded by a new line and the
// indentation, a non-empty object or array closes on a line of its own, and
// is_plain_text changes how pointers, bitfields and chars look.
template <bool text>
class walker {
 public:
  walker(const btf_formatter::plan& p, std::string& out) : p_(p), out_(out) {}

  void value(std::uint32_t index, const std::byte* base, unsigned depth);

 private:
  void newline(unsigned depth) {
    out_.push_back('\n');
    out_.append(std::size_t{depth} * 4, ' ');
  }
  void name(const node& n, unsigned depth) {
    if constexpr (text) newline(depth);
    out_.append(p_.strings, n.label, n.label_size);
    out_.append(text ? ": " : ":");
  }
  template <class T>
  void number(T v) {
    char buffer[24];
    const auto r = std::to_chars(buffer, buffer + sizeof(buffer), v);
    out_.append(buffer, r.ptr);
  }
  template <class T>
  static T load(const std::byte* at) {
    T v;
    std::memcpy(&v, at, sizeof(T));
    return v;
  }
  void bits(const std::byte* at, unsigned bit, unsigned width);
  void character(std::byte b);
  void pointer(std::uint64_t v);
  void enumerator(const node& n, std::uint64_t v, bool sign);
  template <class T>
  void floating(T v);
  void float16(std::uint16_t h);
  void record(const node& n, const std::byte* at, unsigned depth);
  void array(const node& n, const std::byte* at, unsigned depth);
  void section(const node& n, const std::byte* at, unsigned depth);

  const btf_formatter::plan& p_;
  std::string& out_;
};

// btf_dumper_bitfield and btf_int128_print: the bits as one unsigned number
// in hex, "0x%llx" or "0x%llx%016llx" over two 64-bit halves, quoted in JSON.
template <bool text>
void walker<text>::bits(const std::byte* at, unsigned bit, unsigned width) {
  std::uint64_t low = 0, high = 0;
  for (unsigned i = 0; i < width; ++i) {
    const unsigned from = bit + i;
    const auto set = (std::to_integer<unsigned>(at[from / 8]) >> (from % 8)) & 1u;
    if (set) (i < 64 ? low : high) |= std::uint64_t{1} << (i % 64);
  }
  if constexpr (!text) out_.push_back('"');
  char buffer[40];
  char* end = buffer;
  *end++ = '0';
  *end++ = 'x';
  if (high != 0) {
    end = std::to_chars(end, buffer + sizeof(buffer), high, 16).ptr;
    char digits[16];
    const auto r = std::to_chars(digits, digits + 16, low, 16);
    const auto n = static_cast<std::size_t>(r.ptr - digits);
    std::memset(end, '0', 16 - n);
    std::memcpy(end + 16 - n, digits, n);
    end += 16;
  } else {
    end = std::to_chars(end, buffer + sizeof(buffer), low, 16).ptr;
  }
  out_.append(buffer, end);
  if constexpr (!text) out_.push_back('"');
}

// btf_dumper_int, BTF_INT_CHAR: isprint() chars quoted (and escaped: bpftool
// prints '"' and '\' bare, which is not JSON), others "\u00XX" in JSON and
// 0x%hhx in text.
template <bool text>
void walker<text>::character(std::byte b) {
  const auto c = std::to_integer<unsigned char>(b);
  if (c >= 0x20 && c < 0x7f) {
    const char s = static_cast<char>(c);
    append_quoted(out_, std::string_view(&s, 1));
    return;
  }
  static constexpr char hex[] = "0123456789abcdef";
  if constexpr (text) {
    out_.append("0x");
    if (c >= 0x10) out_.push_back(hex[c >> 4]);
    out_.push_back(hex[c & 0xf]);
  } else {
    out_.append("\"\\u00");
    out_.push_back(hex[c >> 4]);
    out_.push_back(hex[c & 0xf]);
    out_.push_back('"');
  }
}

// btf_dumper_ptr: "%lu" in JSON; "\"%p\"" in text (glibc's %p: "(nil)" for
// NULL). bpftool 7.1 printed %p without the quotes.
template <bool text>
void walker<text>::pointer(std::uint64_t v) {
  if constexpr (text) {
    if (v == 0) {
      out_.append("\"(nil)\"");
      return;
    }
    out_.append("\"0x");
    char buffer[16];
    out_.append(buffer, std::to_chars(buffer, buffer + sizeof(buffer), v, 16).ptr);
    out_.push_back('"');
  } else {
    number(v);
  }
}

// btf_dumper_enum/enum64: the enumerator's name, or the value as a signed
// number (jsonw_int) when none has it.
template <bool text>
void walker<text>::enumerator(const node& n, std::uint64_t v, bool sign) {
  if (sign) {  // enum32: sign-extended from the type's size, as btf_dumper_enum reads it
    const unsigned unused = 64 - n.size * 8;
    v = unused == 0 ? v : static_cast<std::uint64_t>(static_cast<std::int64_t>(v << unused) >> unused);
  }
  for (std::uint32_t i = 0; i < n.count; ++i) {
    const enumerator_entry& e = p_.enumerators[n.first + i];
    if (e.value == v) {
      out_.append(p_.strings, e.name, e.name_size);
      return;
    }
  }
  number(static_cast<std::int64_t>(v));
}

// bpftool has no FLOAT (it prints "(unsupported-kind"): ours is the shortest
// decimal that reads back to the same bits, and NaN and infinities, which JSON
// has no number for, are the strings "nan", "-nan", "inf", "-inf".
template <bool text>
template <class T>
void walker<text>::floating(T v) {
  if (std::isnan(v)) {
    out_.append(std::signbit(v) ? "\"-nan\"" : "\"nan\"");
  } else if (std::isinf(v)) {
    out_.append(v < 0 ? "\"-inf\"" : "\"inf\"");
  } else {
    shortest_decimal(v, out_);
  }
}

// IEEE binary16 widened to binary32, which holds every half exactly.
template <bool text>
void walker<text>::float16(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h >> 15) << 31, exponent = (h >> 10) & 0x1fu,
                      mantissa = h & 0x3ffu;
  float v;
  if (exponent == 0x1f) {
    v = std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  } else if (exponent == 0) {
    v = std::ldexp(static_cast<float>(mantissa), -24);
    if (sign != 0) v = -v;
  } else {
    v = std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }
  floating(v);
}

template <bool text>
void walker<text>::record(const node& n, const std::byte* at, unsigned depth) {
  out_.push_back('{');
  for (std::uint32_t i = 0; i < n.count; ++i) {
    const std::uint32_t child = p_.children[n.first + i];
    if (i != 0) out_.push_back(',');
    name(p_.nodes[child], depth + 1);
    value(child, at, depth + 1);
  }
  if constexpr (text) {
    if (n.count != 0) newline(depth);
  }
  out_.push_back('}');
}

// btf_dumper_array: a char array that has a NUL with only printable chars
// (0x20..0x7e) before it is the string up to the NUL; any other array is
// its elements.
template <bool text>
void walker<text>::array(const node& n, const std::byte* at, unsigned depth) {
  if (n.string_candidate) {
    const auto* chars = reinterpret_cast<const unsigned char*>(at);
    for (std::uint32_t i = 0; i < n.count; ++i) {
      if (chars[i] == 0) {
        append_quoted(out_, std::string_view(reinterpret_cast<const char*>(at), i));
        return;
      }
      if (chars[i] < 0x20 || chars[i] >= 0x7f) break;
    }
  }
  out_.push_back('[');
  for (std::uint32_t i = 0; i < n.count; ++i) {
    if (i != 0) out_.push_back(',');
    value(n.first, at + std::size_t{i} * n.size, depth + 1);
  }
  if constexpr (text) {
    if (n.count != 0) newline(depth);
  }
  out_.push_back(']');
}

// btf_dumper_datasec: {"section": [{"var": value}, ...]}.
template <bool text>
void walker<text>::section(const node& n, const std::byte* at, unsigned depth) {
  out_.push_back('{');
  name(n, depth + 1);
  out_.push_back('[');
  for (std::uint32_t i = 0; i < n.count; ++i) {
    if (i != 0) out_.push_back(',');
    value(p_.children[n.first + i], at, depth + 2);
  }
  if constexpr (text) {
    if (n.count != 0) newline(depth + 1);
  }
  out_.push_back(']');
  if constexpr (text) newline(depth);
  out_.push_back('}');
}

template <bool text>
void walker<text>::value(std::uint32_t index, const std::byte* base, unsigned depth) {
  const node& n = p_.nodes[index];
  const std::byte* at = base + n.offset;
  switch (n.code) {
    case op::u8:
      number(load<std::uint8_t>(at));
      break;
    case op::u16:
      number(load<std::uint16_t>(at));
      break;
    case op::u32:
      number(load<std::uint32_t>(at));
      break;
    case op::u64:
      number(load<std::uint64_t>(at));
      break;
    case op::s8:
      number(load<std::int8_t>(at));
      break;
    case op::s16:
      number(load<std::int16_t>(at));
      break;
    case op::s32:
      number(load<std::int32_t>(at));
      break;
    case op::s64:
      number(load<std::int64_t>(at));
      break;
    case op::bits:
    case op::float_wide:
      bits(at, n.bit, n.size);
      break;
    case op::character:
      character(*at);
      break;
    case op::boolean:
      out_.append(*at != std::byte{0} ? "true" : "false");
      break;
    case op::pointer:
      pointer(load<std::uint64_t>(at));
      break;
    case op::enum32:
    case op::enum64: {
      std::uint64_t v = 0;
      std::memcpy(&v, at, n.size);  // little-endian: the low bytes
      enumerator(n, v, n.code == op::enum32);
      break;
    }
    case op::float16:
      float16(load<std::uint16_t>(at));
      break;
    case op::float32:
      floating(load<float>(at));
      break;
    case op::float64:
      floating(load<double>(at));
      break;
    case op::record:
      record(n, at, depth);
      break;
    case op::array:
      array(n, at, depth);
      break;
    case op::variable:  // btf_dumper_var: {"name": value}
      out_.push_back('{');
      name(n, depth + 1);
      value(n.first, at, depth + 1);
      if constexpr (text) newline(depth);
      out_.push_back('}');
      break;
    case op::section:
      section(n, at, depth);
      break;
  }
}

}  // namespace

btf_formatter::btf_formatter(std::unique_ptr<btf_formatter::plan> p) noexcept : plan_(std::move(p)) {}
btf_formatter::btf_formatter(btf_formatter&&) noexcept = default;
btf_formatter& btf_formatter::operator=(btf_formatter&&) noexcept = default;
btf_formatter::~btf_formatter() = default;

result<btf_formatter> btf_formatter::make(const btf& types, std::uint32_t type_id) {
  auto size = types.size_of(type_id);
  if (!size) return size.error();
  if (*size > std::numeric_limits<std::uint32_t>::max()) return make_error(E2BIG);
  auto p = std::make_unique<btf_formatter::plan>();
  p->value_size = static_cast<std::size_t>(*size);
  planner builder(types, *p);
  auto root = builder.build(type_id, 0, *size, 0, 0);
  if (!root) return root.error();
  // The root is the last node built: the walk starts there.
  return btf_formatter(std::move(p));
}

// A moved-from formatter has no plan: it formats nothing (EINVAL), like a
// moved-from btf holds no types.
std::size_t btf_formatter::value_size() const noexcept { return plan_ ? plan_->value_size : 0; }

std::error_code btf_formatter::append_json(std::span<const std::byte> value, std::string& out) const {
  if (!plan_ || value.size() != plan_->value_size) return make_error(EINVAL);
  walker<false>(*plan_, out).value(static_cast<std::uint32_t>(plan_->nodes.size() - 1), value.data(), 0);
  return {};
}

std::error_code btf_formatter::append_text(std::span<const std::byte> value, std::string& out,
                                           unsigned depth) const {
  if (!plan_ || value.size() != plan_->value_size) return make_error(EINVAL);
  walker<true>(*plan_, out).value(static_cast<std::uint32_t>(plan_->nodes.size() - 1), value.data(), depth);
  return {};
}

}  // namespace bpfbatch
