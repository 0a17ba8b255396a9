#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "CSpawn.h"

extern char **environ;

char *const *cspawn_environment(void) { return environ; }

// Children die with faxd: PR_SET_PDEATHSIG, set in the child between fork and exec. The signal
// fires when the *thread* that forked exits, not the process, so every fork happens on one
// thread that never exits (a Dispatch worker or a cooperative-pool thread could retire and kill
// a conversion in the middle). posix_spawn cannot run prctl in the child, hence fork here.

struct request {
    const char *path;
    char *const *argv;
    char *const *envp;
    int fds[3];
    const char *directory;
    pid_t pid;
    int result;
    int done;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct request *pending;
static int spawner_failed;

// Between fork and exec only async-signal-safe calls: the parent has many threads.
static void child(struct request *r, pid_t parent, int report)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);  // the parent died before the death signal was armed
    for (int target = 0; target < 3; target++) {
        int fd = r->fds[target];
        if (fd < 0 && (fd = open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY)) < 0)
            goto fail;  // the descriptor left over is closed with the others below
        if (fd != target && dup2(fd, target) < 0)
            goto fail;
    }
    if (r->directory != NULL && chdir(r->directory) != 0)
        goto fail;
    // Signals the parent may ignore (faxd ignores SIGPIPE, and SIGTERM/SIGINT under its Dispatch
    // signal sources) start at their defaults in the child, with nothing blocked.
    int reset[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (unsigned i = 0; i < sizeof reset / sizeof reset[0]; i++)
        signal(reset[i], SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    // Everything above 2 closes (sofia's and the media sockets are not close-on-exec), except the
    // report pipe, which is close-on-exec: a successful exec closes it and tells the parent so.
    for (int fd = 3; fd < report; fd++)
        close(fd);
    if (syscall(SYS_close_range, report + 1, ~0U, 0) != 0) {
        // Kernels before 5.9 have no close_range: close up to the descriptor limit.
        struct rlimit limit;
        int top = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536 ? (int)limit.rlim_cur : 65536;
        for (int fd = report + 1; fd < top; fd++)
            close(fd);
    }
    execve(r->path, r->argv, r->envp);
fail:;
    int error = errno;
    (void)!write(report, &error, sizeof error);
    _exit(127);
}

static void run(struct request *r)
{
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        r->result = errno;
        return;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        r->result = errno;
        close(report[0]);
        close(report[1]);
        return;
    }
    if (pid == 0)
        child(r, parent, report[1]);
    close(report[1]);
    int error = 0;
    ssize_t n;
    do n = read(report[0], &error, sizeof error); while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof error) {
        // exec failed: the child has exited; reap it so no zombie stays.
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        r->result = error ? error : ECHILD;
        return;
    }
    r->pid = pid;
    r->result = 0;
}

static void *spawner(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (pending == NULL || pending->done)
            pthread_cond_wait(&changed, &lock);
        struct request *r = pending;
        pthread_mutex_unlock(&lock);
        run(r);
        pthread_mutex_lock(&lock);
        r->done = 1;
        pthread_cond_broadcast(&changed);
    }
    return NULL;
}

static void start_spawner(void)
{
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    // The thread lives for the whole process; all signals blocked so none is delivered to it.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    spawner_failed = pthread_create(&thread, &attributes, spawner, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attributes);
}

int cspawn_start(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd,
                 int stderr_fd, const char *directory, pid_t *pid)
{
    pthread_once(&once, start_spawner);
    if (spawner_failed)
        return spawner_failed;
    struct request r = {path, argv, envp, {stdin_fd, stdout_fd, stderr_fd}, directory, 0, 0, 0};
    pthread_mutex_lock(&lock);
    // One request at a time: wait for the slot, post, wait for the answer.
    while (pending != NULL && !pending->done)
        pthread_cond_wait(&changed, &lock);
    pending = &r;
    pthread_cond_broadcast(&changed);
    while (!r.done)
        pthread_cond_wait(&changed, &lock);
    if (pending == &r)
        pending = NULL;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    if (r.result == 0)
        *pid = r.pid;
    return r.result;
}
