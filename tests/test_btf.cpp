// The BTF reader (bpfbatch/btf.hpp) against blobs written by the test
// builder (btf_builder.hpp), which the kernel checks too (BPF_BTF_LOAD).
#include <linux/capability.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "btf_builder.hpp"
#include "faults.hpp"
#include "support.hpp"

using namespace bpfbatch;
using support::btf_builder;

namespace {

// One type of every kind the UAPI defines, as a C compiler would emit them
// for a BPF object with a global variable and a function. for_this_kernel
// leaves out what the running kernel's btf_check_meta() does not know yet
// (FLOAT 5.13, DECL_TAG 5.16, TYPE_TAG 5.17, ENUM64 and signed enums 6.0:
// the kernels under qemu in tests/vm start at 5.10); those ids stay 0.
struct every_kind {
  btf_builder b;
  std::uint32_t u32 = 0, s8 = 0, bool_t = 0, ptr = 0, array = 0, bits = 0, anon_union = 0, e = 0, e64 = 0,
                fwd = 0, td = 0, vol = 0, cst = 0, rst = 0, proto = 0, func = 0, var = 0, sec = 0, flt = 0,
                decl = 0, ttag = 0, ttag_ptr = 0;
  explicit every_kind(bool for_this_kernel = false) {
    const auto knows = [&](int major, int minor) {
      return !for_this_kernel || support::kernel_at_least(major, minor);
    };
    u32 = b.add_int("unsigned int", 4);
    s8 = b.add_int("signed char", 1, btf_builder::int_signed);
    bool_t = b.add_int("_Bool", 1, btf_builder::int_bool, 1);
    ptr = b.add_pointer(u32);
    array = b.add_array(s8, u32, 16);
    anon_union = b.add_union("", 4, {{"as_u32", u32, 0}, {"as_byte", s8, 0}});
    bits = b.add_struct(
        "flags", 12, {{"low", u32, 0, 3}, {"mid", s8, 3, 7}, {"", anon_union, 32, 0}, {"last", u32, 64, 0}});
    e = b.add_enum("e", 4, {{"A", -1}, {"B", 2}}, knows(6, 0));
    if (knows(6, 0)) e64 = b.add_enum64("e64", 8, {{"BIG", std::int64_t{1} << 40}, {"SMALL", 1}});
    fwd = b.add_fwd("opaque");
    td = b.add_typedef("u32_t", u32);
    vol = b.add_volatile(td);
    cst = b.add_const(vol);
    rst = b.add_restrict(ptr);
    proto = b.add_func_proto(u32, {{"x", u32}, {"p", rst}});
    func = b.add_func("f", proto, 1);
    var = b.add_var("counter", u32, 1);
    sec = b.add_datasec(".bss", 4, {{var, 0, 4}});
    if (knows(5, 13)) flt = b.add_float("double", 8);
    if (knows(5, 16)) decl = b.add_decl_tag("tag", bits, 0);
    if (knows(5, 17)) ttag = b.add_type_tag("user", u32);
    ttag_ptr = b.add_pointer(ttag != 0 ? ttag : u32);
  }
};

}  // namespace

TEST_CASE("the test builder's blob with a type of every kind is one the kernel accepts (BPF_BTF_LOAD)") {
  REQUIRE_KERNEL();
  every_kind k(true);
  CHECK(k.b.type_count() == k.ttag_ptr);
  auto fd = k.b.load();
  CHECK(fd.get() >= 0);
}

TEST_CASE("the test builder creates a map whose BTF key and value ids the kernel reports") {
  REQUIRE_KERNEL();
  every_kind k(true);
  map m = k.b.create_map(map_type::hash, 4, 12, 8, k.u32, k.bits);
  CHECK(m.info().btf_id != 0);
  CHECK(m.info().btf_key_type_id == k.u32);
  CHECK(m.info().btf_value_type_id == k.bits);
}

namespace {

btf parsed(const btf_builder& b) {
  std::string_view reason;
  const auto blob = b.blob();
  auto t = btf::parse(blob, &reason);
  INFO("parse: ", reason);
  REQUIRE(t);
  return std::move(*t);
}

// The parse error for blob, and its reason.
std::error_code parse_error(const std::vector<std::byte>& blob, std::string_view* reason = nullptr) {
  auto t = btf::parse(blob, reason);
  return t ? std::error_code() : t.error();
}

void put32(std::vector<std::byte>& blob, std::size_t at, std::uint32_t v) {
  std::memcpy(blob.data() + at, &v, 4);
}

// struct btf_header's fields (include/uapi/linux/btf.h).
constexpr std::size_t hdr_len_at = 4, type_off_at = 8, type_len_at = 12, str_off_at = 16, str_len_at = 20;

std::uint32_t info(std::uint32_t kind, std::uint32_t vlen, bool kind_flag = false) {
  return (kind_flag ? 1u << 31 : 0) | (kind << 24) | vlen;
}

}  // namespace

TEST_CASE("parse decodes every kind's record with its fields") {
  every_kind k;
  const btf t = parsed(k.b);
  REQUIRE(t.type_count() == k.ttag_ptr);
  CHECK(t.type(0) == nullptr);
  CHECK(t.type(k.ttag_ptr + 1) == nullptr);

  const btf_type* u32 = t.type(k.u32);
  CHECK(u32->kind == btf_kind::integer);
  CHECK(u32->name == "unsigned int");
  CHECK(u32->size == 4);
  CHECK(u32->int_bits == 32);
  CHECK(u32->encoding == btf_int_encoding::none);
  CHECK(t.type(k.s8)->encoding == btf_int_encoding::is_signed);
  CHECK(t.type(k.bool_t)->encoding == btf_int_encoding::is_bool);
  CHECK(t.type(k.bool_t)->int_bits == 1);

  CHECK(t.type(k.ptr)->kind == btf_kind::pointer);
  CHECK(t.type(k.ptr)->type == k.u32);

  const btf_type* array = t.type(k.array);
  CHECK(array->kind == btf_kind::array);
  CHECK(array->element_type == k.s8);
  CHECK(array->index_type == k.u32);
  CHECK(array->element_count == 16);

  const btf_type* bits = t.type(k.bits);
  CHECK(bits->kind == btf_kind::structure);
  CHECK(bits->kind_flag);
  CHECK(bits->size == 12);
  REQUIRE(bits->members.size() == 4);
  CHECK(bits->members[0].name == "low");
  CHECK(bits->members[0].bitfield_size == 3);
  CHECK(bits->members[1].name == "mid");
  CHECK(bits->members[1].type == k.s8);
  CHECK(bits->members[1].bit_offset == 3);
  CHECK(bits->members[1].bitfield_size == 7);
  CHECK(bits->members[2].name.empty());
  CHECK(bits->members[2].type == k.anon_union);
  CHECK(bits->members[3].bit_offset == 64);
  CHECK(bits->members[3].bitfield_size == 0);

  const btf_type* u = t.type(k.anon_union);
  CHECK(u->kind == btf_kind::union_type);
  CHECK(u->name.empty());
  REQUIRE(u->members.size() == 2);
  CHECK(u->members[1].name == "as_byte");

  const btf_type* e = t.type(k.e);
  CHECK(e->kind == btf_kind::enumeration);
  CHECK(e->is_signed_enum());
  REQUIRE(e->enumerators.size() == 2);
  CHECK(e->enumerators[0].name == "A");
  CHECK(e->enumerators[0].value == 0xffffffffu);
  CHECK(e->enumerators[1].value == 2);

  const btf_type* e64 = t.type(k.e64);
  CHECK(e64->kind == btf_kind::enumeration64);
  CHECK(!e64->is_signed_enum());
  CHECK(e64->size == 8);
  REQUIRE(e64->enumerators.size() == 2);
  CHECK(e64->enumerators[0].name == "BIG");
  CHECK(e64->enumerators[0].value == (std::uint64_t{1} << 40));

  CHECK(t.type(k.fwd)->kind == btf_kind::forward_declaration);
  CHECK(t.type(k.fwd)->name == "opaque");
  CHECK(t.type(k.td)->kind == btf_kind::type_alias);
  CHECK(t.type(k.td)->type == k.u32);
  CHECK(t.type(k.vol)->kind == btf_kind::volatile_qualifier);
  CHECK(t.type(k.cst)->kind == btf_kind::const_qualifier);
  CHECK(t.type(k.cst)->type == k.vol);
  CHECK(t.type(k.rst)->kind == btf_kind::restrict_qualifier);

  const btf_type* proto = t.type(k.proto);
  CHECK(proto->kind == btf_kind::function_prototype);
  CHECK(proto->type == k.u32);
  REQUIRE(proto->parameters.size() == 2);
  CHECK(proto->parameters[0].name == "x");
  CHECK(proto->parameters[1].type == k.rst);

  CHECK(t.type(k.func)->kind == btf_kind::function);
  CHECK(t.type(k.func)->type == k.proto);
  CHECK(t.type(k.func)->linkage == 1);
  CHECK(t.type(k.var)->kind == btf_kind::variable);
  CHECK(t.type(k.var)->name == "counter");
  CHECK(t.type(k.var)->linkage == 1);

  const btf_type* sec = t.type(k.sec);
  CHECK(sec->kind == btf_kind::data_section);
  CHECK(sec->name == ".bss");
  REQUIRE(sec->variables.size() == 1);
  CHECK(sec->variables[0].type == k.var);
  CHECK(sec->variables[0].size == 4);

  CHECK(t.type(k.flt)->kind == btf_kind::floating_point);
  CHECK(t.type(k.flt)->size == 8);
  CHECK(t.type(k.decl)->kind == btf_kind::declaration_tag);
  CHECK(t.type(k.decl)->component_index == 0);
  CHECK(t.type(k.decl)->type == k.bits);
  CHECK(t.type(k.ttag)->kind == btf_kind::type_tag);
  CHECK(t.type(k.ttag)->name == "user");
}

TEST_CASE("raw() gives back the blob as parsed, and the records outlive a move of the btf") {
  every_kind k;
  const auto blob = k.b.blob();
  btf first = parsed(k.b);
  const btf_type* record = first.type(k.bits);
  btf moved = std::move(first);
  CHECK(moved.type(k.bits) == record);
  CHECK(record->members[0].name == "low");
  REQUIRE(moved.raw().size() == blob.size());
  CHECK(std::memcmp(moved.raw().data(), blob.data(), blob.size()) == 0);
}

TEST_CASE("a btf moved from holds no types, and every query on it fails instead of reading freed memory") {
  every_kind k;
  btf first = parsed(k.b);
  btf moved = std::move(first);
  CHECK(first.type_count() == 0);
  CHECK(first.type(k.bits) == nullptr);
  CHECK(first.raw().empty());
  CHECK(first.resolve(k.td).error() == std::errc::invalid_argument);
  CHECK(first.size_of(0).error() == std::errc::invalid_argument);
  CHECK(first.size_of(k.bits).error() == std::errc::invalid_argument);
  CHECK(first.field(k.bits, "low").error() == std::errc::invalid_argument);
  CHECK(first.name_of(k.bits) == "<invalid>");
  // Assigned again, it is whole.
  first = std::move(moved);
  CHECK(first.type(k.bits) != nullptr);
}

TEST_CASE("btf_kind_name gives the kernel's names of the kinds") {
  CHECK(btf_kind_name(btf_kind::integer) == "INT");
  CHECK(btf_kind_name(btf_kind::structure) == "STRUCT");
  CHECK(btf_kind_name(btf_kind::function_prototype) == "FUNC_PROTO");
  CHECK(btf_kind_name(btf_kind::declaration_tag) == "DECL_TAG");
  CHECK(btf_kind_name(btf_kind::enumeration64) == "ENUM64");
  CHECK(btf_kind_name(static_cast<btf_kind>(42)) == "UNKNOWN");
}

TEST_CASE("from_kernel returns the blob that was loaded, and parse reads it as the original") {
  REQUIRE_KERNEL();
  every_kind k(true);
  map m = k.b.create_map(map_type::array, 4, 12, 4, k.u32, k.bits);
  auto t = btf::from_kernel(m.info().btf_id);
  INFO((t ? std::string() : t.error().message()));
  REQUIRE(t);
  const auto blob = k.b.blob();
  REQUIRE(t->raw().size() == blob.size());
  CHECK(std::memcmp(t->raw().data(), blob.data(), blob.size()) == 0);
  const btf original = parsed(k.b);
  REQUIRE(t->type_count() == original.type_count());
  for (std::uint32_t id = 1; id <= t->type_count(); ++id) {
    CHECK(t->type(id)->kind == original.type(id)->kind);
    CHECK(t->type(id)->name == original.type(id)->name);
    CHECK(t->name_of(id) == original.name_of(id));
  }
}

TEST_CASE("from_kernel of an id no BTF object has is ENOENT") {
  REQUIRE_KERNEL();
  auto t = btf::from_kernel(0xfffffff0u);
  REQUIRE(!t);
  CHECK(t.error().value() == ENOENT);
}

TEST_CASE("each type's kind and name agree with bpftool's raw dump of the same kernel object") {
  REQUIRE_KERNEL();
  if (std::system("command -v bpftool >/dev/null 2>&1") != 0) {
    // CI installs bpftool and sets BPFBATCH_REQUIRE_BPFTOOL=1; the kernels
    // under qemu have none, and say so here.
    if (std::getenv("BPFBATCH_REQUIRE_BPFTOOL") != nullptr)
      FAIL("BPFBATCH_REQUIRE_BPFTOOL is set but bpftool is not installed");
    MESSAGE("bpftool not installed: the comparison is left out");
    return;
  }
  every_kind k(true);
  map m = k.b.create_map(map_type::array, 4, 12, 4, k.u32, k.bits);
  auto t = btf::from_kernel(m.info().btf_id);
  REQUIRE(t);
  const std::string command = "bpftool btf dump id " + std::to_string(m.info().btf_id);
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char line[512];
  std::uint32_t seen = 0;
  while (std::fgets(line, sizeof(line), pipe)) {
    // "[3] ARRAY '(anon)' type_id=2 index_type_id=1 nr_elems=16"
    unsigned id = 0;
    char kind[32] = {}, name[128] = {};
    if (std::sscanf(line, "[%u] %31s '%127[^']'", &id, kind, name) != 3) continue;
    ++seen;
    const btf_type* record = t->type(id);
    REQUIRE(record != nullptr);
    CHECK(btf_kind_name(record->kind) == kind);
    CHECK((record->name.empty() ? std::string_view("(anon)") : record->name) == std::string_view(name));
  }
  ::pclose(pipe);
  CHECK(seen == t->type_count());
}

TEST_CASE("map_btf::of a map created with BTF gives its key and value type ids") {
  REQUIRE_KERNEL();
  every_kind k(true);
  map m = k.b.create_map(map_type::hash, 4, 12, 8, k.u32, k.bits);
  auto mb = map_btf::of(m);
  INFO((mb ? std::string() : mb.error().message()));
  REQUIRE(mb);
  CHECK(mb->key_type() == k.u32);
  CHECK(mb->value_type() == k.bits);
  CHECK(mb->types().name_of(mb->value_type()) == "struct flags");
  auto last = mb->value_field("last");
  REQUIRE(last);
  CHECK(last->bit_offset == 64);
}

TEST_CASE("map_btf::of a map created without BTF is ENODATA") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 4);
  auto mb = map_btf::of(m);
  REQUIRE(!mb);
  CHECK(mb.error().value() == ENODATA);
}

TEST_CASE("without CAP_SYS_ADMIN, from_kernel and map_btf::of are EPERM (BPF_BTF_GET_FD_BY_ID)") {
  REQUIRE_KERNEL();
  every_kind k(true);
  map m = k.b.create_map(map_type::hash, 4, 12, 8, k.u32, k.bits);
  const std::uint32_t id = m.info().btf_id;
  CHECK(support::in_child([&] {
          if (!support::drop_capabilities({CAP_SYS_ADMIN}))
            return std::string("could not drop CAP_SYS_ADMIN");
          auto t = btf::from_kernel(id);
          if (t || t.error().value() != EPERM) return std::string("from_kernel was not EPERM");
          auto mb = map_btf::of(m);
          if (mb || mb.error().value() != EPERM) return std::string("map_btf::of was not EPERM");
          return std::string();
        }) == "");
}

TEST_CASE("every prefix of a valid blob is refused with EINVAL, never read past") {
  every_kind k;
  const auto blob = k.b.blob();
  for (std::size_t n = 0; n < blob.size(); ++n) {
    // A copy of exactly n bytes, so that ASan catches a read past it.
    std::vector<std::byte> prefix(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(n));
    std::string_view reason;
    const auto err = parse_error(prefix, &reason);
    INFO("prefix of ", n, " bytes");
    CHECK(err.value() == EINVAL);
    CHECK(!reason.empty());
  }
  CHECK(!parse_error(blob));
}

TEST_CASE("a blob with the wrong magic is EINVAL") {
  btf_builder b;
  b.add_int("int", 4, btf_builder::int_signed);
  auto blob = b.blob();
  blob[0] = std::byte{0xeb};
  blob[1] = std::byte{0x9f};  // big-endian BTF: not this host's
  std::string_view reason;
  CHECK(parse_error(blob, &reason).value() == EINVAL);
  CHECK(reason == "not BTF: wrong magic");
}

TEST_CASE("a header length past the blob is EINVAL") {
  btf_builder b;
  b.add_int("int", 4, btf_builder::int_signed);
  auto blob = b.blob();
  put32(blob, hdr_len_at, static_cast<std::uint32_t>(blob.size() + 1));
  std::string_view reason;
  CHECK(parse_error(blob, &reason).value() == EINVAL);
  CHECK(reason == "BTF header length past the blob");
  put32(blob, hdr_len_at, 0xffffffffu);
  CHECK(parse_error(blob).value() == EINVAL);
}

TEST_CASE("section offsets and lengths whose sums pass 2^32 are EINVAL") {
  btf_builder b;
  b.add_int("int", 4, btf_builder::int_signed);
  const auto good = b.blob();
  std::string_view reason;
  auto blob = good;
  put32(blob, type_off_at, 0xfffffffcu);
  put32(blob, type_len_at, 0x10);  // wraps to 0xc in 32 bits
  CHECK(parse_error(blob, &reason).value() == EINVAL);
  CHECK(reason == "type section past the blob");
  blob = good;
  put32(blob, str_off_at, 0xffffffffu);
  put32(blob, str_len_at, 0x2);
  CHECK(parse_error(blob, &reason).value() == EINVAL);
  CHECK(reason == "string section past the blob");
  blob = good;
  put32(blob, type_len_at, 0xffffffffu);
  CHECK(parse_error(blob).value() == EINVAL);
}

TEST_CASE("a name's string offset past the string section is EINVAL") {
  btf_builder b;
  b.add_raw({0x10000, info(1, 0), 4, 32});  // INT named at offset 65536
  std::string_view reason;
  CHECK(parse_error(b.blob(), &reason).value() == EINVAL);
  CHECK(reason == "string offset past the string section");
}

TEST_CASE("a string section that does not end in NUL is EINVAL") {
  btf_builder b;
  b.add_int("int", 4, btf_builder::int_signed);
  auto blob = b.blob();
  blob.back() = std::byte{'x'};
  std::string_view reason;
  CHECK(parse_error(blob, &reason).value() == EINVAL);
  CHECK(reason == "string section not NUL-terminated");
}

TEST_CASE("a reference to a type id past the last type is EINVAL") {
  btf_builder b;
  const auto u32 = b.add_int("unsigned int", 4);
  b.add_pointer(u32 + 5);
  std::string_view reason;
  CHECK(parse_error(b.blob(), &reason).value() == EINVAL);
  CHECK(reason == "type id past the last type");
  btf_builder members;
  const auto m32 = members.add_int("unsigned int", 4);
  members.add_struct("s", 4, {{"a", m32 + 7, 0}});
  CHECK(parse_error(members.blob()).value() == EINVAL);
}

TEST_CASE("a vlen whose items run past the type section is EINVAL") {
  btf_builder b;
  b.add_raw({0, info(4, 0xffff), 8});  // STRUCT announcing 65535 members, with none
  std::string_view reason;
  CHECK(parse_error(b.blob(), &reason).value() == EINVAL);
  CHECK(reason == "type record's trailing data past the type section");
}

TEST_CASE("an unknown kind and reserved info bits are EINVAL") {
  btf_builder b;
  b.add_raw({0, info(20, 0), 0});
  std::string_view reason;
  CHECK(parse_error(b.blob(), &reason).value() == EINVAL);
  CHECK(reason == "unknown type kind");
  btf_builder zero;
  zero.add_raw({0, info(0, 0), 0});  // BTF_KIND_UNKN is no record
  CHECK(parse_error(zero.blob()).value() == EINVAL);
  btf_builder reserved;
  reserved.add_raw({0, info(2, 0) | 0x00010000, 0});
  CHECK(parse_error(reserved.blob()).value() == EINVAL);
}

TEST_CASE("resolve strips typedefs, qualifiers and type tags down to the type") {
  every_kind k;
  const btf t = parsed(k.b);
  CHECK(t.resolve(k.cst).value() == k.u32);
  CHECK(t.resolve(k.ttag).value() == k.u32);
  CHECK(t.resolve(k.ptr).value() == k.ptr);  // a pointer is a type of its own
  CHECK(t.resolve(0).value() == 0);
  CHECK(t.resolve(k.ttag_ptr + 1).error().value() == EINVAL);
}

TEST_CASE("a typedef cycle is ELOOP from resolve, size_of and field, and name_of ends") {
  btf_builder b;
  b.add_typedef("a", 2);
  b.add_typedef("b", 1);
  const btf t = parsed(b);
  CHECK(t.resolve(1).error().value() == ELOOP);
  CHECK(t.size_of(2).error().value() == ELOOP);
  CHECK(t.field(1, "x").error().value() == ELOOP);
  CHECK(!t.name_of(1).empty());
}

TEST_CASE("a struct that contains an array of itself is ELOOP for size_of and field, without hanging") {
  btf_builder b;
  const auto s = b.add_struct("s", 8, {{"self", 2, 0}});
  b.add_array(s, 3, 2);
  b.add_int("unsigned int", 4);
  const btf t = parsed(b);
  CHECK(t.size_of(s).error().value() == ELOOP);
  CHECK(t.size_of(2).error().value() == ELOOP);
  CHECK(t.field(s, "self[1]").error().value() == ELOOP);
  CHECK(t.name_of(s) == "struct s");
  CHECK(t.size_of(3).value() == 4);  // the rest of the blob is still read
}

TEST_CASE("a pointer to itself has a size and a name that ends") {
  btf_builder b;
  b.add_pointer(1);
  const btf t = parsed(b);
  CHECK(t.size_of(1).value() == 8);
  CHECK(t.name_of(1).size() < 256);
}

TEST_CASE(
    "size_of gives sizes through typedefs and arrays, EINVAL for sizeless kinds, EOVERFLOW past 64 bits") {
  every_kind k;
  const btf t = parsed(k.b);
  CHECK(t.size_of(k.cst).value() == 4);
  CHECK(t.size_of(k.array).value() == 16);
  CHECK(t.size_of(k.ptr).value() == 8);
  CHECK(t.size_of(k.bits).value() == 12);
  CHECK(t.size_of(k.var).value() == 4);
  CHECK(t.size_of(k.e64).value() == 8);
  CHECK(t.size_of(0).error().value() == EINVAL);
  CHECK(t.size_of(k.func).error().value() == EINVAL);
  CHECK(t.size_of(k.fwd).error().value() == EINVAL);

  btf_builder big;
  const auto u64 = big.add_int("unsigned long", 8);
  const auto a = big.add_array(u64, u64, 0xffffffffu);
  const auto aa = big.add_array(a, u64, 0xffffffffu);
  const btf huge = parsed(big);
  CHECK(huge.size_of(a).value() == 8ull * 0xffffffffu);
  CHECK(huge.size_of(aa).error().value() == EOVERFLOW);
}

TEST_CASE("name_of writes C declarations") {
  every_kind k;
  auto& b = k.b;
  const auto chr = b.add_int("char", 1, btf_builder::int_char);
  const auto name16 = b.add_array(chr, k.u32, 16);
  const auto ptr_to_array = b.add_pointer(name16);
  const auto const_ptr = b.add_const(k.ptr);
  const auto ptr_to_const = b.add_pointer(k.cst);
  const auto fptr = b.add_pointer(k.proto);
  const auto anon = b.add_struct("", 4, {{"x", k.u32, 0}});
  const btf t = parsed(b);
  CHECK(t.name_of(k.u32) == "unsigned int");
  CHECK(t.name_of(k.bits) == "struct flags");
  CHECK(t.name_of(k.e) == "enum e");
  CHECK(t.name_of(k.td) == "u32_t");
  CHECK(t.name_of(k.ptr) == "unsigned int *");
  CHECK(t.name_of(name16) == "char[16]");
  CHECK(t.name_of(ptr_to_array) == "char (*)[16]");
  CHECK(t.name_of(const_ptr) == "unsigned int *const");
  CHECK(t.name_of(ptr_to_const) == "const volatile u32_t *");
  CHECK(t.name_of(fptr) == "unsigned int (*)(unsigned int, unsigned int *restrict)");
  CHECK(t.name_of(k.fwd) == "struct opaque");
  CHECK(t.name_of(anon) == "struct {...}");
  CHECK(t.name_of(0) == "void");
}

namespace {

// A value type for field paths: struct outer { u32 id; struct inner { u16
// port; u8 addr[4]; } in; union { u32 as_u32; u8 bytes[4]; }; struct inner
// hops[3]; } (36 bytes).
struct paths {
  btf_builder b;
  std::uint32_t u8, u16, u32, inner, addr, anon, bytes, hops, outer;
  paths() {
    u8 = b.add_int("unsigned char", 1);
    u16 = b.add_int("unsigned short", 2);
    u32 = b.add_int("unsigned int", 4);
    addr = b.add_array(u8, u32, 4);
    inner = b.add_struct("inner", 8, {{"port", u16, 0}, {"addr", addr, 16}});
    bytes = b.add_array(u8, u32, 4);
    anon = b.add_union("", 4, {{"as_u32", u32, 0}, {"bytes", bytes, 0}});
    hops = b.add_array(inner, u32, 3);
    outer =
        b.add_struct("outer", 44, {{"id", u32, 0}, {"in", inner, 32}, {"", anon, 96}, {"hops", hops, 128}});
  }
};

}  // namespace

TEST_CASE("field finds nested members with their offsets and sizes") {
  paths p;
  const btf t = parsed(p.b);
  auto port = t.field(p.outer, "in.port");
  REQUIRE(port);
  CHECK(port->type == p.u16);
  CHECK(port->bit_offset == 32);
  CHECK(port->byte_size == 2);
  CHECK(port->bit_size == 0);
  auto in = t.field(p.outer, "in");
  REQUIRE(in);
  CHECK(in->byte_size == 8);
}

TEST_CASE("field indexes arrays, nested in members and members of elements") {
  paths p;
  const btf t = parsed(p.b);
  auto a = t.field(p.outer, "in.addr[2]");
  REQUIRE(a);
  CHECK(a->bit_offset == 32 + 16 + 16);
  CHECK(a->byte_size == 1);
  auto hop = t.field(p.outer, "hops[2].addr[3]");
  REQUIRE(hop);
  CHECK(hop->bit_offset == 128 + 2 * 64 + 16 + 24);
  auto whole = t.field(p.addr, "[1]");
  REQUIRE(whole);
  CHECK(whole->bit_offset == 8);
}

TEST_CASE("field with an index past the array is ERANGE") {
  paths p;
  const btf t = parsed(p.b);
  CHECK(t.field(p.outer, "hops[3]").error().value() == ERANGE);
  CHECK(t.field(p.outer, "in.addr[4]").error().value() == ERANGE);
}

TEST_CASE("field with a name no member has is ENOENT") {
  paths p;
  const btf t = parsed(p.b);
  CHECK(t.field(p.outer, "missing").error().value() == ENOENT);
  CHECK(t.field(p.outer, "in.missing").error().value() == ENOENT);
  CHECK(t.field(p.outer, "id.more").error().value() == ENOENT);  // an int has no members
}

TEST_CASE("field with a malformed path is EINVAL") {
  paths p;
  const btf t = parsed(p.b);
  for (const char* path : {".id", "id.", "in..port", "hops[", "hops[]", "hops[x]", "hops[1", "hops]",
                           "in port", "hops[1]port", "hops[99999999999999999999999]", "in.[1]"}) {
    INFO(path);
    CHECK(t.field(p.outer, path).error().value() == EINVAL);
  }
  CHECK(t.field(p.outer, "id[0]").error().value() == EINVAL);  // indexing what is no array
}

TEST_CASE("field looks through anonymous unions as C does") {
  paths p;
  const btf t = parsed(p.b);
  auto as_u32 = t.field(p.outer, "as_u32");
  REQUIRE(as_u32);
  CHECK(as_u32->bit_offset == 96);
  CHECK(as_u32->byte_size == 4);
  auto byte = t.field(p.outer, "bytes[3]");
  REQUIRE(byte);
  CHECK(byte->bit_offset == 96 + 24);
}

namespace {

// The compiler lays this out; the BTF below describes it as clang -g would,
// and the reads must agree with what the compiler stored.
struct bitfields {
  unsigned int low : 4;
  unsigned int cross : 8;  // bits 4..11: across the first byte boundary
  int negative : 5;        // bits 12..16
  unsigned short tail;     // byte 4
};

struct bitfield_btf {
  btf_builder b;
  std::uint32_t u32, s32, u16, s;
  bitfield_btf() {
    u32 = b.add_int("unsigned int", 4);
    s32 = b.add_int("int", 4, btf_builder::int_signed);
    u16 = b.add_int("unsigned short", 2);
    s = b.add_struct(
        "bitfields", sizeof(bitfields),
        {{"low", u32, 0, 4}, {"cross", u32, 4, 8}, {"negative", s32, 12, 5}, {"tail", u16, 32, 0}});
  }
};

std::span<const std::byte> bytes_of(const bitfields& v) { return std::as_bytes(std::span(&v, 1)); }

}  // namespace

TEST_CASE("a typed read of a bitfield across a byte boundary gives the value the compiler stored") {
  bitfield_btf d;
  const btf t = parsed(d.b);
  bitfields v{};
  v.low = 0xa;
  v.cross = 0xb7;
  v.negative = -3;
  v.tail = 0x1234;
  auto cross = t.field(d.s, "cross");
  REQUIRE(cross);
  CHECK(cross->bit_size == 8);
  CHECK(cross->bit_offset == 4);
  CHECK(cross->read<std::uint32_t>(bytes_of(v)) == 0xb7u);
  CHECK(t.field(d.s, "low")->read<std::uint32_t>(bytes_of(v)) == 0xau);
  CHECK(t.field(d.s, "tail")->read<std::uint16_t>(bytes_of(v)) == 0x1234);
}

TEST_CASE("a typed read of a signed bitfield sign-extends it") {
  bitfield_btf d;
  const btf t = parsed(d.b);
  bitfields v{};
  v.negative = -3;
  auto negative = t.field(d.s, "negative");
  REQUIRE(negative);
  CHECK(negative->read<std::int32_t>(bytes_of(v)) == -3);
  CHECK(negative->read<std::uint32_t>(bytes_of(v)) == 0x1du);  // unsigned: the 5 bits as they are
  v.negative = 15;
  CHECK(negative->read<std::int32_t>(bytes_of(v)) == 15);
}

TEST_CASE("a typed read with a T of another size than the field is nullopt") {
  bitfield_btf d;
  const btf t = parsed(d.b);
  bitfields v{};
  auto tail = t.field(d.s, "tail");
  REQUIRE(tail);
  CHECK(!tail->read<std::uint32_t>(bytes_of(v)));
  CHECK(!tail->read<std::uint8_t>(bytes_of(v)));
  CHECK(!t.field(d.s, "cross")->read<std::uint16_t>(bytes_of(v)));
}

TEST_CASE("a typed read of a field past the value's bytes is nullopt") {
  bitfield_btf d;
  const btf t = parsed(d.b);
  bitfields v{};
  const auto all = bytes_of(v);
  CHECK(!t.field(d.s, "tail")->read<std::uint16_t>(all.first(5)));
  CHECK(t.field(d.s, "tail")->read<std::uint16_t>(all.first(6)));
  CHECK(!t.field(d.s, "negative")->read<std::int32_t>(all.first(2)));
  CHECK(t.field(d.s, "negative")->read<std::int32_t>(all.first(3)));
}

TEST_CASE("BPF_BTF_GET_FD_BY_ID has its kernel name in error messages") {
  CHECK(command_name(command::btf_get_fd_by_id) == "BPF_BTF_GET_FD_BY_ID");
}

TEST_CASE(
    "field through anonymous members nested two by two, forty deep, ends with ELOOP instead of 2^40 steps") {
  btf_builder b;
  std::uint32_t level = b.add_int("unsigned int", 4);
  for (int i = 0; i < 40; ++i) level = b.add_struct("", 8, {{"", level, 0}, {"", level, 0}});
  const btf t = parsed(b);
  CHECK(t.field(level, "missing").error().value() == ELOOP);
  CHECK(t.size_of(level).value() == 8);
}

TEST_CASE("name_of a prototype with 65535 parameters stays short") {
  btf_builder b;
  const auto u32 = b.add_int("unsigned int", 4);
  std::vector<btf_builder::parameter> many(0xffff, {"", u32});
  const auto proto = b.add_func_proto(u32, many);
  const btf t = parsed(b);
  CHECK(t.name_of(proto).size() < 1024);
}

namespace {

std::vector<std::byte> read_file(const char* path) {
  std::vector<std::byte> out;
  if (FILE* f = std::fopen(path, "rb")) {
    std::byte chunk[65536];
    std::size_t n;
    while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) out.insert(out.end(), chunk, chunk + n);
    std::fclose(f);
  }
  return out;
}

}  // namespace

TEST_CASE("the running kernel's own BTF parses, with bpftool's type count and task_struct's pid offset") {
  const auto blob = read_file("/sys/kernel/btf/vmlinux");
  const bool required = std::getenv("BPFBATCH_REQUIRE_BPFTOOL") != nullptr;  // CI, on its own kernel
  if (blob.empty()) {
    if (required) FAIL("BPFBATCH_REQUIRE_BPFTOOL is set but /sys/kernel/btf/vmlinux cannot be read");
    MESSAGE("no /sys/kernel/btf/vmlinux (the qemu guests mount no sysfs): left out");
    return;
  }
  std::string_view reason;
  auto t = btf::parse(blob, &reason);
  INFO(reason);
  REQUIRE(t);
  if (std::system("command -v bpftool >/dev/null 2>&1") != 0) {
    if (required) FAIL("BPFBATCH_REQUIRE_BPFTOOL is set but bpftool is not installed");
    MESSAGE("no bpftool: the comparison with its dump is left out");
    return;
  }
  FILE* pipe = ::popen("bpftool btf dump file /sys/kernel/btf/vmlinux", "r");
  REQUIRE(pipe != nullptr);
  char line[1024];
  unsigned last_id = 0, task_struct = 0, id = 0, pid_type = 0;
  std::uint64_t pid_offset = 0;
  bool in_task_struct = false;
  while (std::fgets(line, sizeof(line), pipe)) {
    char kind[32] = {}, name[256] = {};
    if (std::sscanf(line, "[%u] %31s '%255[^']'", &id, kind, name) >= 2) {
      last_id = id;
      in_task_struct = std::string_view(kind) == "STRUCT" && std::string_view(name) == "task_struct";
      if (in_task_struct) task_struct = id;
    } else if (in_task_struct) {
      unsigned type = 0;
      unsigned long long offset = 0;
      if (std::sscanf(line, "\t'pid' type_id=%u bits_offset=%llu", &type, &offset) == 2) {
        pid_type = type;
        pid_offset = offset;
      }
    }
  }
  ::pclose(pipe);
  CHECK(t->type_count() == last_id);
  REQUIRE(task_struct != 0);
  CHECK(t->name_of(task_struct) == "struct task_struct");
  auto pid = t->field(task_struct, "pid");
  REQUIRE(pid);
  CHECK(pid->type == pid_type);
  CHECK(pid->bit_offset == pid_offset);
  CHECK(t->name_of(pid->type) == "pid_t");
  CHECK(pid->byte_size == 4);
}

TEST_CASE(
    "a bitfield in the old encoding (an INT narrower than its size, no kind_flag) reads as a bitfield") {
  btf_builder b;
  const auto three_bits = b.add_int("unsigned int", 4, 0, 3);
  const auto s = b.add_struct("old", 4, {{"f", three_bits, 5}});
  const btf t = parsed(b);
  CHECK(!t.type(s)->kind_flag);
  auto f = t.field(s, "f");
  REQUIRE(f);
  CHECK(f->bit_offset == 5);
  CHECK(f->bit_size == 3);
  const std::uint32_t value = 0b101u << 5 | 0b11111u;
  CHECK(f->read<std::uint32_t>(std::as_bytes(std::span(&value, 1))) == 0b101u);
}
