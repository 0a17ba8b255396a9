#ifndef FAXD_CSPAWN_H
#define FAXD_CSPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` (NULL-terminated) by posix_spawn(3): the child gets
/// `stdin_fd`, `stdout_fd` and `stderr_fd` as 0, 1 and 2 (-1 means /dev/null), every other
/// descriptor closed (posix_spawn_file_actions_addclosefrom_np: sofia's sockets and the media
/// sockets are not close-on-exec), default handlers for the signals faxd ignores, and `directory` as its working
/// directory when not NULL. Returns 0 and the pid in `pid`, or an errno value.
///
/// Written in C because Foundation's Process.run in Swift 6.3 over-reads a dirent while listing
/// /proc/self/fd and crashes now and then (swift-corelibs-foundation #5472), and the file actions
/// above are not all reachable from Swift's Glibc module.
int cspawn_start(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd,
                 int stderr_fd, const char *directory, pid_t *pid);

/// The process's environment (`environ`), which Swift cannot name directly.
char *const *cspawn_environment(void);

#endif
