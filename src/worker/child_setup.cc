#include "worker/child_setup.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

namespace leaseq::worker {

bool PrepareChild(pid_t parent) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died between fork() and prctl(): then the death
  // signal will never come, and we were re-parented already.
  if (getppid() != parent) return false;

  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    sigaction(sig, &dfl, nullptr);  // EINVAL for SIGKILL/SIGSTOP/reserved: fine
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  return true;
}

}  // namespace leaseq::worker
