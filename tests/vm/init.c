/* /init of the test guest: mount what the test suite needs, run it, report
 * its exit status on the serial console and, on x86, to qemu's
 * isa-debug-exit device (qemu then exits with (status << 1) | 1), then power
 * off (ARM has no such device: the printed line is the result there).
 *
 * Kernel command-line words without a dot arrive here as environment
 * variables; they are passed on to the tests (BPFBATCH_REQUIRE_KERNEL=1,
 * BPFBATCH_VM_ARGS=... for doctest arguments separated by semicolons,
 * BPFBATCH_VM_UID=65534 to run the suite without privileges).
 *
 * An initramfs that holds /suite (a shell script, with busybox as /bin/sh)
 * runs it instead of /bpfbatch-tests, with the same arguments: the 32-bit
 * guest runs several programs that way (tests/vm/i686-suite.sh). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <sys/io.h>
#endif

static void say(const char *text) { (void)!write(1, text, strlen(text)); }

static void finish(int status) {
  char line[64];
  snprintf(line, sizeof line, "\nBPFBATCH-VM-RESULT %d\n", status);
  say(line);
  /* The serial console sends what was written later, from the kernel's
   * buffer: qemu's exit would cut it short (the result line lost) on a
   * loaded host. Wait until the UART has sent everything. */
  tcdrain(1);
  sync();
#if defined(__x86_64__) || defined(__i386__)
  if (ioperm(0xf4, 1, 1) == 0) outb((unsigned char)status, 0xf4);
#endif
  reboot(RB_POWER_OFF);
  for (;;) pause();
}

int main(void) {
  mkdir("/dev", 0755);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  int console = open("/dev/console", O_RDWR);
  if (console >= 0) {
    dup2(console, 0);
    dup2(console, 1);
    dup2(console, 2);
  }
  mkdir("/proc", 0755);
  mkdir("/sys", 0755);
  mkdir("/tmp", 01777);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL);
  mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
  /* The tool's tests open terminals (openpty) for its progress counter. */
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", 0, "ptmxmode=0666");

  struct utsname u;
  if (uname(&u) == 0) {
    char line[160];
    snprintf(line, sizeof line, "BPFBATCH-VM-KERNEL %s\n", u.release);
    say(line);
  }

  /* A service manager gives BPF services an unlimited RLIMIT_MEMLOCK
   * (LimitMEMLOCK=infinity); kernels before 5.11 charge map memory to it,
   * and bpfbatch raises only the soft limit, up to this hard one. */
  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_MEMLOCK, &unlimited);

  char *argv[64];
  int argc = 0;
  struct stat suite;
  if (stat("/suite", &suite) == 0) {
    argv[argc++] = "/bin/sh";
    argv[argc++] = "/suite";
  } else {
    argv[argc++] = "/bpfbatch-tests";
  }
  argv[argc++] = "--no-colors";
  char *extra = getenv("BPFBATCH_VM_ARGS");
  if (extra != NULL) {
    extra = strdup(extra);
    for (char *word = strtok(extra, ";"); word != NULL && argc < 62; word = strtok(NULL, ";")) argv[argc++] = word;
  }
  argv[argc] = NULL;

  pid_t pid = fork();
  if (pid == 0) {
    const char *uid = getenv("BPFBATCH_VM_UID");
    if (uid != NULL) {
      uid_t id = (uid_t)atoi(uid);
      if (setresgid(id, id, id) != 0 || setresuid(id, id, id) != 0) _exit(125);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) finish(126);
  finish(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return 0;
}
