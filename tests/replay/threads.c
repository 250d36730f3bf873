/* A multi-threaded program for the live replay test: four threads each map, protect,
 * grow and unmap memory of their own while the main thread forks a child that
 * execs /bin/true; everything is joined and waited for.
 *
 * The threads take turns (a mutex around their memory calls): a log shows the order in
 * which the tracer saw calls return, which for calls racing on one address space need
 * not be the order in which the kernel ran them.  Thread creation is finished before
 * any worker starts, for the same reason. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t turn = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;

static void *worker(void *arg)
{
    pthread_barrier_wait(&start);
    pthread_mutex_lock(&turn);
    size_t len = (size_t)(1 + (long)arg) << 16;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        pthread_mutex_unlock(&turn);
        return NULL;
    }
    memset(p, 1, len);
    mprotect(p, 4096, PROT_READ);
    char *q = mremap(p, len, len * 2, MREMAP_MAYMOVE);
    munmap(q == MAP_FAILED ? p : q, q == MAP_FAILED ? len : len * 2);
    pthread_mutex_unlock(&turn);
    return NULL;
}

int main(void)
{
    pthread_t t[4];
    pthread_barrier_init(&start, NULL, 5);
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    pthread_mutex_lock(&turn);
    pthread_barrier_wait(&start);
    pid_t pid = fork();
    pthread_mutex_unlock(&turn);
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
