/*
 * tests/record/threads.c - a multi-threaded program for tests/test_record.c.
 *
 * Usage: threads MODE OUTFILE, MODE one of
 *   mm        four threads each map and unmap a region of their own size, then the
 *             process ends with exit_group(0);
 *   exec      a thread that is not the leader executes /bin/true;
 *   lastexit  the leader leaves with exit(0) first, the other thread last (exit(0));
 *   segv      a thread writes to address 8 and the process dies of SIGSEGV.
 * Each thread writes the log lines `pagoda record` must show for its calls, with its
 * thread id, to OUTFILE.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NTHREADS 4

static int out_fd;

/* Write one expected log line, prefixed with the caller's thread id. */
__attribute__((format(printf, 1, 2))) static void expect(const char *fmt, ...)
{
    char line[256];
    int n = snprintf(line, sizeof line, "%d ", (int)gettid());
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    if (write(out_fd, line, (size_t)n) != n)
        _exit(99);
}

static void *map_unmap(void *arg)
{
    size_t size = 65536 * ((size_t)(long)arg + 1);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect("mmap(NULL, %zu, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = %p", size, p);
    munmap(p, size);
    expect("munmap(%p, %zu) = 0", p, size);
    return NULL;
}

static void *exec_true(void *arg)
{
    (void)arg;
    char *argv[] = {"true", NULL};
    execv("/bin/true", argv);
    return NULL;
}

static void *exit_last(void *arg)
{
    (void)arg;
    usleep(50000);
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect("mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = %p", p);
    syscall(SYS_exit, 0);
    return NULL;
}

static void *segv(void *arg)
{
    (void)arg;
    *(volatile int *)8 = 1;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    out_fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pthread_t t[NTHREADS];
    if (!strcmp(argv[1], "mm")) {
        for (long i = 0; i < NTHREADS; i++)
            pthread_create(&t[i], NULL, map_unmap, (void *)i);
        for (int i = 0; i < NTHREADS; i++)
            pthread_join(t[i], NULL);
        return 0;
    }
    void *(*fn)(void *) = !strcmp(argv[1], "exec") ? exec_true
                        : !strcmp(argv[1], "lastexit") ? exit_last : segv;
    pthread_create(&t[0], NULL, fn, NULL);
    if (fn == exit_last)
        syscall(SYS_exit, 0);
    for (;;)
        pause();
}
