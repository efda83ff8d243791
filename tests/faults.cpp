#include "faults.hpp"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <vector>

namespace support {

namespace {

// The architecture seccomp reports for this build's system calls (a 32-bit
// program on an x86-64 kernel makes i386 calls, with i386's numbers, and
// __NR_bpf is this target's own number).
#if defined(__x86_64__)
constexpr std::uint32_t audit_arch = AUDIT_ARCH_X86_64;
#elif defined(__i386__)
constexpr std::uint32_t audit_arch = AUDIT_ARCH_I386;
#elif defined(__aarch64__) && !defined(__AARCH64EB__)
constexpr std::uint32_t audit_arch = AUDIT_ARCH_AARCH64;
#elif defined(__arm__) && !defined(__ARMEB__)
constexpr std::uint32_t audit_arch = AUDIT_ARCH_ARM;
#else
#error "tests/faults.cpp: name this architecture's AUDIT_ARCH_ value"
#endif

}  // namespace

std::string in_child(const std::function<std::string()>& scenario) {
  int report[2];
  if (::pipe(report) != 0) return "pipe failed";
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(report[0]);
    std::string failure = scenario();
    if (!failure.empty()) (void)!::write(report[1], failure.data(), failure.size());
    ::close(report[1]);
    ::_exit(failure.empty() ? 0 : 1);
  }
  ::close(report[1]);
  std::string failure;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(report[0], buffer, sizeof(buffer))) > 0)
    failure.append(buffer, static_cast<std::size_t>(n));
  ::close(report[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status))
    return "the child died with signal " + std::to_string(WTERMSIG(status)) + " " + failure;
  if (WEXITSTATUS(status) != 0 && failure.empty()) return "the child failed without a report";
  return failure;
}

bool inject_bpf_error(std::initializer_list<int> commands, int error) {
  std::vector<sock_filter> program;
  auto statement = [&](std::uint16_t code, std::uint32_t k) { program.push_back(BPF_STMT(code, k)); };
  auto jump = [&](std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
    program.push_back(BPF_JUMP(code, k, jt, jf));
  };
  const auto n = static_cast<std::uint8_t>(commands.size());
  // Another architecture's calls, or not bpf(2): allow. The command is
  // args[0]'s low 32 bits.
  statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  jump(BPF_JMP | BPF_JEQ | BPF_K, audit_arch, 1, 0);
  statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_bpf, 1, 0);
  statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]));
  std::uint8_t remaining = n;
  for (int command : commands) {
    // Matched: jump over the remaining tests and the allow to the errno.
    jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(command), static_cast<std::uint8_t>(remaining),
         0);
    --remaining;
  }
  statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  statement(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<std::uint32_t>(error) & SECCOMP_RET_DATA));
  sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) == 0;
}

bool refuse_new_threads() {
  // clone3 is ENOSYS, so that glibc's pthread_create falls back to clone,
  // whose flags (args[0]) say whether it makes a thread: that is EAGAIN, as
  // under a pids cgroup limit. Other architectures: allow.
  std::vector<sock_filter> program{
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, audit_arch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) == 0;
}

}  // namespace support
