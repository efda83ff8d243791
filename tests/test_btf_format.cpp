// btf_formatter on hand-built BTF blobs: every kind bpftool's btf_dumper.c
// prints, written out as bpftool prints it (the CLI tests compare with
// bpftool itself on maps the kernel accepted), and the refusals.
#include <bpfbatch/btf.hpp>
#include <bpfbatch/btf_format.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "btf_builder.hpp"

using bpfbatch::btf;
using bpfbatch::btf_formatter;
using support::btf_builder;

namespace {

btf parsed(const btf_builder& b) {
  auto blob = b.blob();
  auto types = btf::parse(blob);
  REQUIRE_MESSAGE(types.has_value(), types.error().message());
  return std::move(*types);
}

btf_formatter formatter(const btf& types, std::uint32_t id) {
  auto f = btf_formatter::make(types, id);
  REQUIRE_MESSAGE(f.has_value(), f.error().message());
  return std::move(*f);
}

template <class... T>
std::vector<std::byte> bytes_of(T... values) {
  std::vector<std::byte> out;
  (
      [&] {
        const auto at = out.size();
        out.resize(at + sizeof(T));
        std::memcpy(out.data() + at, &values, sizeof(T));
      }(),
      ...);
  return out;
}

std::string json(const btf_formatter& f, const std::vector<std::byte>& value) {
  std::string out;
  REQUIRE(!f.append_json(value, out));
  return out;
}

std::string text(const btf_formatter& f, const std::vector<std::byte>& value, unsigned depth = 0) {
  std::string out;
  REQUIRE(!f.append_text(value, out, depth));
  return out;
}

// struct s { unsigned int a; int b; char name[4]; };
struct simple {
  btf_builder b;
  std::uint32_t u32, s32, chr, name, s;
  simple() {
    u32 = b.add_int("unsigned int", 4);
    s32 = b.add_int("int", 4, btf_builder::int_signed);
    chr = b.add_int("char", 1, btf_builder::int_signed);
    name = b.add_array(chr, u32, 4);
    s = b.add_struct("s", 12, {{"a", u32, 0}, {"b", s32, 32}, {"name", name, 64}});
  }
};

}  // namespace

TEST_CASE("a struct formats as bpftool -j's compact object of its members, in order") {
  simple t;
  const btf types = parsed(t.b);
  const auto f = formatter(types, t.s);
  CHECK(f.value_size() == 12);
  CHECK(json(f, bytes_of(7u, -3, 'a', 'b', '\0', 'z')) == R"({"a":7,"b":-3,"name":"ab"})");
}

TEST_CASE("the plain-text layout is bpftool's pretty writer: names on new lines, four spaces a level") {
  simple t;
  const btf types = parsed(t.b);
  const auto f = formatter(types, t.s);
  const auto value = bytes_of(7u, -3, 'a', 'b', '\0', 'z');
  CHECK(text(f, value) == "{\n    \"a\": 7,\n    \"b\": -3,\n    \"name\": \"ab\"\n}");
  // At depth 2, as the value of an entry in plain bpftool map dump.
  CHECK(text(f, value, 2) ==
        "{\n            \"a\": 7,\n            \"b\": -3,\n            \"name\": \"ab\"\n        }");
}

TEST_CASE("a span of any other size than the type's is EINVAL and appends nothing") {
  simple t;
  const btf types = parsed(t.b);
  const auto f = formatter(types, t.s);
  std::string out = "kept";
  const std::vector<std::byte> short_value(11), long_value(13), empty;
  CHECK(f.append_json(short_value, out) == std::errc::invalid_argument);
  CHECK(f.append_json(long_value, out) == std::errc::invalid_argument);
  CHECK(f.append_text(empty, out) == std::errc::invalid_argument);
  CHECK(out == "kept");
}

TEST_CASE("formatting appends to the caller's string and the formatter outlives its btf") {
  simple t;
  std::optional<btf_formatter> f;
  {
    const btf types = parsed(t.b);
    f.emplace(formatter(types, t.s));
  }
  std::string out = "[";
  REQUIRE(!f->append_json(bytes_of(1u, 2, 'x', '\0', '\0', '\0'), out));
  CHECK(out == R"([{"a":1,"b":2,"name":"x"})");
}

TEST_CASE("a formatter moved from formats nothing: EINVAL, the caller's string untouched") {
  simple t;
  const btf types = parsed(t.b);
  auto f = formatter(types, t.s);
  const btf_formatter moved = std::move(f);
  std::string out = "kept";
  const auto value = bytes_of(1u, 2, 'x', '\0', '\0', '\0');
  CHECK(f.value_size() == 0);
  CHECK(f.append_json(value, out) == std::errc::invalid_argument);
  CHECK(f.append_text(value, out) == std::errc::invalid_argument);
  CHECK(out == "kept");
  CHECK(!moved.append_json(value, out));
}

TEST_CASE("a char array is a string only with a NUL and printable chars before it, else numbers") {
  simple t;
  const btf types = parsed(t.b);
  const auto f = formatter(types, t.name);
  CHECK(json(f, bytes_of('a', 'b', 'c', 'd')) == "[97,98,99,100]");      // no NUL
  CHECK(json(f, bytes_of('\0', 'b', 'c', 'd')) == R"("")");              // empty string
  CHECK(json(f, bytes_of('a', '\x7f', '\0', 'd')) == "[97,127,0,100]");  // DEL is not printable
  CHECK(json(f, bytes_of('a', '\xe9', '\0', 'd')) == "[97,-23,0,100]");  // char is signed
  CHECK(json(f, bytes_of('\\', '"', '\0', '\0')) == R"("\\\"")");        // escaped as later bpftool
  CHECK(text(f, bytes_of('a', 'b', 'c', 'd')) == "[97,98,99,100\n]");    // jsonw_end_array's new line
}

TEST_CASE("an array of unsigned chars or of a char typedef is numbers even when it reads as text") {
  btf_builder b;
  const auto u32 = b.add_int("unsigned int", 4);
  const auto uchar = b.add_int("unsigned char", 1);
  const auto chr = b.add_int("char", 1, btf_builder::int_signed);
  const auto alias = b.add_typedef("my_char", chr);
  const auto cchar = b.add_const(chr);
  const auto a1 = b.add_array(uchar, u32, 3), a2 = b.add_array(alias, u32, 3),
             a3 = b.add_array(cchar, u32, 3);
  const btf types = parsed(b);
  const auto value = bytes_of('h', 'i', '\0');
  CHECK(json(formatter(types, a1), value) == "[104,105,0]");
  CHECK(json(formatter(types, a2), value) == "[104,105,0]");
  CHECK(json(formatter(types, a3), value) == R"("hi")");  // const is looked through, typedefs not
}

TEST_CASE("integers print by their encoding and width; odd widths and offsets as hex") {
  btf_builder b;
  const auto u8 = b.add_int("u8", 1), s8 = b.add_int("s8", 1, btf_builder::int_signed);
  const auto u16 = b.add_int("u16", 2), s16 = b.add_int("s16", 2, btf_builder::int_signed);
  const auto u64 = b.add_int("u64", 8), s64 = b.add_int("s64", 8, btf_builder::int_signed);
  const auto u24 = b.add_int("u24", 4, 0, 24);
  const auto shifted = b.add_int("shifted", 4, 0, 8, 4);  // BTF_INT_OFFSET 4
  const auto u128 = b.add_int("unsigned __int128", 16, 0, 128);
  const btf types = parsed(b);
  CHECK(json(formatter(types, u8), bytes_of(std::uint8_t{255})) == "255");
  CHECK(json(formatter(types, s8), bytes_of(std::int8_t{-128})) == "-128");
  CHECK(json(formatter(types, u16), bytes_of(std::uint16_t{65535})) == "65535");
  CHECK(json(formatter(types, s16), bytes_of(std::int16_t{-2})) == "-2");
  CHECK(json(formatter(types, u64), bytes_of(~std::uint64_t{0})) == "18446744073709551615");
  CHECK(json(formatter(types, s64), bytes_of(std::numeric_limits<std::int64_t>::min())) ==
        "-9223372036854775808");
  CHECK(json(formatter(types, u24), bytes_of(0xff123456u)) == R"("0x123456")");
  CHECK(text(formatter(types, u24), bytes_of(0xff123456u)) == "0x123456");
  CHECK(json(formatter(types, shifted), bytes_of(0xabcu)) == R"("0xab")");
  CHECK(json(formatter(types, u128), bytes_of(std::uint64_t{0x1f}, std::uint64_t{0})) == R"("0x1f")");
  CHECK(json(formatter(types, u128), bytes_of(std::uint64_t{2}, std::uint64_t{1})) ==
        R"("0x10000000000000002")");
}

TEST_CASE("bitfields are hex strings in JSON and bare hex in text, also across bytes and signed") {
  btf_builder b;
  const auto u32 = b.add_int("unsigned int", 4);
  const auto s32 = b.add_int("int", 4, btf_builder::int_signed);
  // struct { unsigned low:3; unsigned cross:10; int neg:7; unsigned rest:12; }
  const auto s = b.add_struct(
      "bits", 4, {{"low", u32, 0, 3}, {"cross", u32, 3, 10}, {"neg", s32, 13, 7}, {"rest", u32, 20, 12}});
  const btf types = parsed(b);
  const auto f = formatter(types, s);
  const std::uint32_t word = 5u | (0x3ffu << 3) | (0x7fu << 13) | (0xabcu << 20);
  CHECK(json(f, bytes_of(word)) == R"({"low":"0x5","cross":"0x3ff","neg":"0x7f","rest":"0xabc"})");
  CHECK(text(f, bytes_of(word)) ==
        "{\n    \"low\": 0x5,\n    \"cross\": 0x3ff,\n    \"neg\": 0x7f,\n"
        "    \"rest\": 0xabc\n}");
}

TEST_CASE("a member of int type that is not byte-aligned prints as a bitfield without kind_flag") {
  btf_builder b;
  const auto u8 = b.add_int("u8", 1, 0, 4);  // a 4-bit integer type, as old compilers emitted
  const auto s = b.add_struct("nibbles", 1, {{"lo", u8, 0}, {"hi", u8, 4}});
  const btf types = parsed(b);
  CHECK(json(formatter(types, s), bytes_of(std::uint8_t{0x9a})) == R"({"lo":"0xa","hi":"0x9"})");
}

TEST_CASE("bool, BTF_INT_CHAR chars and pointers print as bpftool's btf_dumper_int and btf_dumper_ptr") {
  btf_builder b;
  const auto boolean = b.add_int("_Bool", 1, btf_builder::int_bool);
  const auto chr = b.add_int("char", 1, btf_builder::int_char);
  const auto u32 = b.add_int("unsigned int", 4);
  const auto ptr = b.add_pointer(u32);
  const btf types = parsed(b);
  CHECK(json(formatter(types, boolean), bytes_of(std::uint8_t{0})) == "false");
  CHECK(json(formatter(types, boolean), bytes_of(std::uint8_t{2})) == "true");
  CHECK(json(formatter(types, chr), bytes_of('A')) == R"("A")");
  CHECK(json(formatter(types, chr), bytes_of('"')) == R"("\"")");
  CHECK(json(formatter(types, chr), bytes_of('\x01')) == R"("\u0001")");
  CHECK(text(formatter(types, chr), bytes_of('\xfe')) == "0xfe");
  CHECK(text(formatter(types, chr), bytes_of('\x05')) == "0x5");
  CHECK(json(formatter(types, ptr), bytes_of(std::uint64_t{0xffff888012345678})) == "18446612682375452280");
  CHECK(text(formatter(types, ptr), bytes_of(std::uint64_t{0xffff888012345678})) ==
        R"("0xffff888012345678")");
  CHECK(text(formatter(types, ptr), bytes_of(std::uint64_t{0})) == R"x("(nil)")x");
}

TEST_CASE("an enum value prints as its enumerator's name, else as a signed number") {
  btf_builder b;
  const auto e = b.add_enum("color", 4, {{"RED", 1}, {"NEG", -5}, {"TOP", 0xffffffffLL}});
  const auto small = b.add_enum("small", 1, {{"MINUS", -1}, {"ONE", 1}});
  const auto signed_e = b.add_enum("dir", 4, {{"IN", -1}, {"OUT", 1}}, true);
  const btf types = parsed(b);
  const auto f = formatter(types, e);
  CHECK(json(f, bytes_of(1u)) == R"("RED")");
  CHECK(json(f, bytes_of(-5)) == R"("NEG")");
  CHECK(json(f, bytes_of(0xffffffffu)) == R"("TOP")");
  CHECK(json(f, bytes_of(0x80000000u)) == "-2147483648");  // btf_dumper_enum's jsonw_int
  CHECK(json(f, bytes_of(42u)) == "42");
  CHECK(json(formatter(types, small), bytes_of(std::uint8_t{0xff})) == R"("MINUS")");
  CHECK(json(formatter(types, small), bytes_of(std::uint8_t{0x80})) == "-128");
  CHECK(json(formatter(types, signed_e), bytes_of(-1)) == R"("IN")");
  CHECK(json(formatter(types, signed_e), bytes_of(-7)) == "-7");
}

TEST_CASE("an ENUM64 compares all 64 bits and prints an unknown value as a signed number") {
  btf_builder b;
  const auto e = b.add_enum64("big", 8, {{"HUGE", 0x123456789aLL}, {"ALL", -1}});
  const auto s = b.add_enum64("sbig", 8, {{"LOW", std::numeric_limits<std::int64_t>::min()}}, true);
  const btf types = parsed(b);
  const auto f = formatter(types, e);
  CHECK(json(f, bytes_of(std::uint64_t{0x123456789a})) == R"("HUGE")");
  CHECK(json(f, bytes_of(~std::uint64_t{0})) == R"("ALL")");
  CHECK(json(f, bytes_of(std::uint64_t{0x9a})) == "154");
  CHECK(json(f, bytes_of(std::uint64_t{0xfffffffffffffffe})) == "-2");
  CHECK(json(formatter(types, s), bytes_of(std::numeric_limits<std::int64_t>::min())) == R"("LOW")");
}

TEST_CASE("floats are JSON numbers that read back to the same bits; NaN and infinities are strings") {
  btf_builder b;
  const auto f32 = b.add_float("float", 4), f64 = b.add_float("double", 8), f16 = b.add_float("_Float16", 2);
  const auto u32 = b.add_int("unsigned int", 4);
  const auto s = b.add_struct("with_float", 16, {{"f", f32, 0}, {"after", u32, 32}, {"d", f64, 64}});
  const btf types = parsed(b);
  const auto f = formatter(types, s);
  CHECK(json(f, bytes_of(0.1f, 7u, 0.1)) == R"({"f":0.1,"after":7,"d":0.1})");
  CHECK(json(f, bytes_of(-0.0f, 0u, 1e-300)) == R"({"f":-0,"after":0,"d":1e-300})");
  CHECK(json(f, bytes_of(std::numeric_limits<float>::infinity(), 0u,
                         -std::numeric_limits<double>::infinity())) == R"({"f":"inf","after":0,"d":"-inf"})");
  CHECK(json(f, bytes_of(std::numeric_limits<float>::quiet_NaN(), 0u,
                         -std::numeric_limits<double>::quiet_NaN())) ==
        R"({"f":"nan","after":0,"d":"-nan"})");
  const double tiny = std::numeric_limits<double>::denorm_min();
  const std::string printed = json(formatter(types, f64), bytes_of(tiny));
  CHECK(std::strtod(printed.c_str(), nullptr) == tiny);
  CHECK(json(formatter(types, f16), bytes_of(std::uint16_t{0x3c00})) == "1");     // 1.0
  CHECK(json(formatter(types, f16), bytes_of(std::uint16_t{0xc100})) == "-2.5");  // -2.5
  CHECK(json(formatter(types, f16), bytes_of(std::uint16_t{0x0001})) ==
        "5.9604645e-08");  // smallest subnormal
  CHECK(json(formatter(types, f16), bytes_of(std::uint16_t{0x7c00})) == R"("inf")");
}

TEST_CASE("typedefs, qualifiers and type tags are looked through") {
  btf_builder b;
  const auto u32 = b.add_int("unsigned int", 4);
  const auto tagged = b.add_type_tag("user", u32);
  const auto v = b.add_volatile(tagged);
  const auto c = b.add_const(v);
  const auto r = b.add_restrict(c);
  const auto t = b.add_typedef("__u32", r);
  b.add_decl_tag("note", t);
  const btf types = parsed(b);
  CHECK(json(formatter(types, t), bytes_of(9u)) == "9");
  CHECK(json(formatter(types, tagged), bytes_of(9u)) == "9");
}

TEST_CASE("unions print every member over the same bytes; anonymous members are named \"\"") {
  btf_builder b;
  const auto u32 = b.add_int("unsigned int", 4);
  const auto u8 = b.add_int("unsigned char", 1);
  const auto octets = b.add_array(u8, u32, 4);
  const auto u = b.add_union("", 4, {{"word", u32, 0}, {"octets", octets, 0}});
  const auto s = b.add_struct("outer", 4, {{"", u, 0}});
  const btf types = parsed(b);
  CHECK(json(formatter(types, s), bytes_of(0x04030201u)) == R"({"":{"word":67305985,"octets":[1,2,3,4]}})");
  CHECK(text(formatter(types, s), bytes_of(0x04030201u)) ==
        "{\n    \"\": {\n        \"word\": 67305985,\n        \"octets\": [1,2,3,4\n        ]\n    }\n}");
}

TEST_CASE("arrays of structs and empty arrays and structs in the text layout") {
  btf_builder b;
  const auto u16 = b.add_int("unsigned short", 2);
  const auto pair = b.add_struct("pair", 4, {{"x", u16, 0}, {"y", u16, 16}});
  const auto pairs = b.add_array(pair, u16, 2);
  const auto none = b.add_array(u16, u16, 0);
  const auto empty = b.add_struct("empty", 0, {});
  const auto s = b.add_struct("s", 8, {{"pairs", pairs, 0}, {"none", none, 64}, {"empty", empty, 64}});
  const btf types = parsed(b);
  const auto value = bytes_of(std::uint16_t{1}, std::uint16_t{2}, std::uint16_t{3}, std::uint16_t{4});
  CHECK(json(formatter(types, s), value) ==
        R"({"pairs":[{"x":1,"y":2},{"x":3,"y":4}],"none":[],"empty":{}})");
  CHECK(text(formatter(types, s), value) ==
        "{\n    \"pairs\": [{\n            \"x\": 1,\n            \"y\": 2\n        },{\n"
        "            \"x\": 3,\n            \"y\": 4\n        }\n    ],\n    \"none\": [],\n"
        "    \"empty\": {}\n}");
}

TEST_CASE("a DATASEC is an object of its name holding an array of one-variable objects") {
  btf_builder b;
  const auto s32 = b.add_int("int", 4, btf_builder::int_signed);
  const auto chr = b.add_int("char", 1, btf_builder::int_signed);
  const auto name = b.add_array(chr, s32, 4);
  const auto level = b.add_var("level", s32);
  const auto label = b.add_var("label", name);
  const auto sec = b.add_datasec(".data", 8, {{level, 0, 4}, {label, 4, 4}});
  const btf types = parsed(b);
  const auto f = formatter(types, sec);
  const auto value = bytes_of(-3, 'a', 'b', '\0', '\0');
  CHECK(json(f, value) == R"({".data":[{"level":-3},{"label":"ab"}]})");
  CHECK(text(f, value, 2) ==
        "{\n            \".data\": [{\n                    \"level\": -3\n                },{\n"
        "                    \"label\": \"ab\"\n                }\n            ]\n        }");
}

TEST_CASE("types with no value to print are EINVAL when the formatter is made") {
  btf_builder b;
  const auto u32 = b.add_int("unsigned int", 4);
  const auto fwd = b.add_fwd("later");
  const auto proto = b.add_func_proto(u32, {{"x", u32}});
  const auto func = b.add_func("f", proto);
  const auto to_void = b.add_typedef("nothing", 0);
  const btf types = parsed(b);
  for (const std::uint32_t id : {0u, fwd, proto, func, to_void, 999u}) {
    CAPTURE(id);
    CHECK(btf_formatter::make(types, id).error() == std::errc::invalid_argument);
  }
}

TEST_CASE("a member that lies outside its struct is refused, never read") {
  btf_builder b;
  const auto u32 = b.add_int("unsigned int", 4);
  const auto u64 = b.add_int("unsigned long", 8);
  const auto past = b.add_struct("past", 4, {{"x", u64, 0}});
  const auto late = b.add_struct("late", 4, {{"x", u32, 8}});
  const auto wide = b.add_struct("wide", 4, {{"x", u32, 30, 8}});  // a bitfield past bit 32
  const btf types = parsed(b);
  for (const std::uint32_t id : {past, late, wide}) {
    CAPTURE(id);
    CHECK(btf_formatter::make(types, id).error() == std::errc::invalid_argument);
  }
}

TEST_CASE("a type nested deeper than 32 levels is E2BIG") {
  btf_builder b;
  std::uint32_t t = b.add_int("unsigned int", 4);
  for (int level = 0; level < 40; ++level)
    t = b.add_struct("nest" + std::to_string(level), 4, {{"in", t, 0}});
  const btf types = parsed(b);
  CHECK(btf_formatter::make(types, t).error() == std::errc::argument_list_too_long);
}

TEST_CASE("a type that expands to more than 65,536 parts is E2BIG, not a memory blow-up") {
  btf_builder b;
  std::uint32_t t = b.add_int("unsigned char", 1);
  std::uint32_t size = 1;
  for (int level = 0; level < 20; ++level) {  // each level holds the one below twice: 2^20 leaves
    t = b.add_struct("twice" + std::to_string(level), size * 2, {{"a", t, 0}, {"b", t, size * 8}});
    size *= 2;
  }
  const btf types = parsed(b);
  CHECK(btf_formatter::make(types, t).error() == std::errc::argument_list_too_long);
}
