// The BTF reader (bpfbatch/btf.hpp) against blobs written by the test
// builder (btf_builder.hpp), which the kernel checks too (BPF_BTF_LOAD).
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "btf_builder.hpp"
#include "support.hpp"

using namespace bpfbatch;
using support::btf_builder;

namespace {

// One type of every kind the UAPI defines, as a C compiler would emit them
// for a BPF object with a global variable and a function.
struct every_kind {
  btf_builder b;
  std::uint32_t u32, s8, bool_t, ptr, array, bits, anon_union, e, e64, fwd, td, vol, cst, rst, proto, func,
      var, sec, flt, decl, ttag, ttag_ptr;
  every_kind() {
    u32 = b.add_int("unsigned int", 4);
    s8 = b.add_int("signed char", 1, btf_builder::int_signed);
    bool_t = b.add_int("_Bool", 1, btf_builder::int_bool, 1);
    ptr = b.add_pointer(u32);
    array = b.add_array(s8, u32, 16);
    anon_union = b.add_union("", 4, {{"as_u32", u32, 0}, {"as_byte", s8, 0}});
    bits = b.add_struct(
        "flags", 12, {{"low", u32, 0, 3}, {"mid", s8, 3, 7}, {"", anon_union, 32, 0}, {"last", u32, 64, 0}});
    e = b.add_enum("e", 4, {{"A", -1}, {"B", 2}}, true);
    e64 = b.add_enum64("e64", 8, {{"BIG", std::int64_t{1} << 40}, {"SMALL", 1}});
    fwd = b.add_fwd("opaque");
    td = b.add_typedef("u32_t", u32);
    vol = b.add_volatile(td);
    cst = b.add_const(vol);
    rst = b.add_restrict(ptr);
    proto = b.add_func_proto(u32, {{"x", u32}, {"p", rst}});
    func = b.add_func("f", proto, 1);
    var = b.add_var("counter", u32, 1);
    sec = b.add_datasec(".bss", 4, {{var, 0, 4}});
    flt = b.add_float("double", 8);
    decl = b.add_decl_tag("tag", bits, 0);
    ttag = b.add_type_tag("user", u32);
    ttag_ptr = b.add_pointer(ttag);
  }
};

}  // namespace

TEST_CASE("the test builder's blob with a type of every kind is one the kernel accepts (BPF_BTF_LOAD)") {
  REQUIRE_KERNEL();
  every_kind k;
  CHECK(k.b.type_count() == k.ttag_ptr);
  auto fd = k.b.load();
  CHECK(fd.get() >= 0);
}

TEST_CASE("the test builder creates a map whose BTF key and value ids the kernel reports") {
  REQUIRE_KERNEL();
  every_kind k;
  map m = k.b.create_map(map_type::hash, 4, 12, 8, k.u32, k.bits);
  CHECK(m.info().btf_id != 0);
  CHECK(m.info().btf_key_type_id == k.u32);
  CHECK(m.info().btf_value_type_id == k.bits);
}
