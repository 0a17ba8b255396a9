#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>
#include "CSpawn.h"

extern char **environ;

char *const *cspawn_environment(void) { return environ; }

int cspawn_start(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd,
                 int stderr_fd, const char *directory, pid_t *pid)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0)
        return rc;
    rc = posix_spawnattr_init(&attributes);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }
    int fds[3] = {stdin_fd, stdout_fd, stderr_fd};
    for (int target = 0; target < 3 && rc == 0; target++) {
        if (fds[target] < 0)
            rc = posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0);
        else
            rc = posix_spawn_file_actions_adddup2(&actions, fds[target], target);
    }
    if (rc == 0 && directory != NULL)
        rc = posix_spawn_file_actions_addchdir_np(&actions, directory);
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (rc == 0) {
        sigset_t none, ignored;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attributes, &none);
        // Signals the parent may ignore (faxd ignores SIGPIPE, and SIGTERM/SIGINT under its Dispatch
        // signal sources) start at their defaults in the child.
        sigemptyset(&ignored);
        int reset[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
        for (unsigned i = 0; i < sizeof reset / sizeof reset[0]; i++)
            sigaddset(&ignored, reset[i]);
        posix_spawnattr_setsigdefault(&attributes, &ignored);
        rc = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return rc;
}
