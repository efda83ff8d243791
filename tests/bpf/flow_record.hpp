// The value of btf_maps.bpf.c's `flows` map (about 64 bytes, several fields
// and a char array, as a flow table holds): its C++ mirror and the values
// the tests and the benchmark fill it with. No doctest here: the benchmark
// includes it too.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace bpf_objects {

// 64-bit members aligned to 8 as on the BPF target, also in a 32-bit build.
struct flow_record {
  alignas(8) std::uint64_t packets;
  alignas(8) std::uint64_t bytes;
  alignas(8) std::uint64_t first_seen;
  alignas(8) std::uint64_t last_seen;
  char comm[16];
  std::uint32_t pid;
  std::uint16_t sport, dport;
  std::uint8_t proto, tcp_flags;
  std::uint16_t vlan;
  std::uint32_t ifindex;
};
static_assert(sizeof(flow_record) == 64);

// The value of key i: comm names of every length, the 16-byte one without NUL.
inline flow_record flow_value(std::uint32_t i) {
  flow_record v{};
  v.packets = i * 3ull + 1;
  v.bytes = (i * 3ull + 1) * 1500;
  v.first_seen = 1'700'000'000'000'000'000ull + i;
  v.last_seen = v.first_seen + 1'000'000ull * (i % 1000);
  static constexpr std::string_view comms[] = {"curl", "systemd-resolved", "sshd", "nginx: worker"};
  const std::string_view comm = comms[i % 4];
  std::memcpy(v.comm, comm.data(), std::min(sizeof(v.comm), comm.size()));
  v.pid = 1000 + i;
  v.sport = static_cast<std::uint16_t>(32768 + i % 28000);
  v.dport = i % 2 ? 443 : 53;
  v.proto = i % 2 ? 6 : 17;
  v.tcp_flags = static_cast<std::uint8_t>(i & 0x3f);
  v.vlan = static_cast<std::uint16_t>(i % 4095);
  v.ifindex = 1 + i % 4;
  return v;
}

}  // namespace bpf_objects
