import Glibc

/// Blocks SIGPIPE on the calling thread only: a write to a Redis that has gone away then fails
/// with `EPIPE` instead of killing the process (hiredis uses plain `write`), and the process's
/// own signal dispositions stay untouched.
func blockBrokenPipeSignalOnCurrentThread() {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &signals, nil)
}
