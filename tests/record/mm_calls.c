/*
 * tests/record/mm_calls.c - a program for tests/test_record.c: memory system calls
 * with known arguments, one of them failing.
 *
 * Usage: mm_calls OUTFILE.  For every call it makes, it writes to OUTFILE the line
 * `pagoda record` must log for it (without the pid), formatted here independently
 * from the actual results; then the line "MAPS" and its own /proc/self/maps, read
 * just before it ends with exit_group(3).  Output goes through write(2) from static
 * buffers so that nothing but the listed calls touches the address space.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FIXED_TARGET 0x200000000000UL

static int out_fd;
static char line[512];
static char maps[1 << 16];

/* Write one expected log line. */
__attribute__((format(printf, 1, 2))) static void expect(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    if (write(out_fd, line, (size_t)n) != n)
        _exit(99);
}

/* "MAPS" and this process's maps, as they are now. */
static void write_maps(void)
{
    int fd = open("/proc/self/maps", O_RDONLY);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fd, maps + len, sizeof maps - len)) > 0)
        len += (size_t)n;
    close(fd);
    if (write(out_fd, "MAPS\n", 5) != 5 || write(out_fd, maps, len) != (ssize_t)len)
        _exit(99);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    out_fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect("mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = %p", p);
    munmap((void *)0x1001, 4096);
    expect("munmap(0x1001, 4096) = -1 EINVAL (Invalid argument)");
    mprotect(p, 8192, PROT_READ);
    expect("mprotect(%p, 8192, PROT_READ) = 0", p);
    char *q = mremap(p, 8192, 16384, MREMAP_MAYMOVE);
    expect("mremap(%p, 8192, 16384, MREMAP_MAYMOVE) = %p", p, q);
    char *r = mremap(q, 16384, 16384, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)FIXED_TARGET);
    expect("mremap(%p, 16384, 16384, MREMAP_MAYMOVE|MREMAP_FIXED, %#lx) = %p", q, FIXED_TARGET, r);
    madvise(r, 4096, MADV_DONTNEED);
    expect("madvise(%p, 4096, MADV_DONTNEED) = 0", r);
    mmap(NULL, 1UL << 47, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect("mmap(NULL, 140737488355328, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = "
           "-1 ENOMEM (Cannot allocate memory)");
    mprotect(r + 4096, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
    expect("mprotect(%p, 4096, PROT_READ|PROT_WRITE|PROT_EXEC) = 0", r + 4096);
    munmap(r, 8192);
    expect("munmap(%p, 8192) = 0", r);
    char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect("mmap(NULL, 12288, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = %p", m);
    m[0] = 1;
    unsigned char vec[3];
    mincore(m, 3 * 4096, vec);
    expect("mincore(%p, 12288, [1, 0, 0]) = 0", m);
    msync(m, 4096, MS_SYNC);
    expect("msync(%p, 4096, MS_SYNC) = 0", m);
    char *s = mremap(m, 12288, 4096, 0);
    expect("mremap(%p, 12288, 4096, 0) = %p", m, s);
    long brk0 = syscall(SYS_brk, 0);
    expect("brk(NULL) = %#lx", brk0);
    long brk1 = syscall(SYS_brk, brk0 + 8192);
    expect("brk(%#lx) = %#lx", brk0 + 8192, brk1);
    mmap((void *)0x1000, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, 1000, 0);
    expect("mmap(0x1000, 4096, PROT_READ, MAP_SHARED|MAP_FIXED, 1000, 0) = -1 EBADF (Bad file descriptor)");
    write_maps();
    syscall(SYS_exit_group, 3);
    return 0;
}
