#ifndef FAXD_CSPAWN_H
#define FAXD_CSPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` (NULL-terminated) by fork and execve on one long-lived
/// spawner thread: the child gets `stdin_fd`, `stdout_fd` and `stderr_fd` as 0, 1 and 2 (-1 means
/// /dev/null), every other descriptor closed (sofia's sockets and the media sockets are not
/// close-on-exec), default handlers for the signals faxd ignores, `directory` as its working
/// directory when not NULL, and PR_SET_PDEATHSIG SIGKILL: it dies with this process, even after
/// kill -9 (the signal follows the forking thread, which lives as long as the process; getppid()
/// is checked after arming it). Returns 0 and the pid in `pid`, or an errno value (exec failures
/// included, reported through a close-on-exec pipe).
///
/// Written in C because Foundation's Process.run in Swift 6.3 over-reads a dirent while listing
/// /proc/self/fd and crashes now and then (swift-corelibs-foundation #5472), and posix_spawn
/// cannot call prctl in the child.
int cspawn_start(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd,
                 int stderr_fd, const char *directory, pid_t *pid);

/// The process's environment (`environ`), which Swift cannot name directly.
char *const *cspawn_environment(void);

#endif
