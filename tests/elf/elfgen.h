/*
 * tests/elf/elfgen.h - hand-made ELF64 files for the exec tests: an ELF header, a
 * program header table and whatever strings the headers point at, written byte by
 * byte so that odd layouts (gaps, RWX, huge bss, broken congruence, truncation, wrong
 * machine) can be produced without a linker.  The code bytes are zeros: the images are
 * loaded, never run.  Header-only (static functions): each test program is built
 * from its own source file.
 */
#ifndef PAGODA_TESTS_ELFGEN_H
#define PAGODA_TESTS_ELFGEN_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EG_PT_LOAD 1
#define EG_PT_INTERP 3
#define EG_PT_GNU_STACK 0x6474e551
#define EG_PF_X 1
#define EG_PF_W 2
#define EG_PF_R 4
#define EG_ET_REL 1
#define EG_ET_EXEC 2
#define EG_ET_DYN 3
#define EG_EM_386 3
#define EG_EM_X86_64 62

struct eg_seg {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz, align;
};

struct eg_image {
    uint16_t type;            /* EG_ET_* */
    uint16_t machine;         /* EG_EM_*; 0 means x86-64 */
    uint64_t entry;
    int nseg;
    struct eg_seg seg[16];
    const char *interp;       /* written at the PT_INTERP segment's offset, NUL included */
    uint64_t file_size;       /* total bytes; 0 = just past the furthest segment byte */
    uint64_t truncate_at;     /* nonzero: cut the file to this many bytes */
};

/* Append a segment (up to 16); returns img. */
static struct eg_image *eg_add(struct eg_image *img, uint32_t type, uint32_t flags, uint64_t offset,
                               uint64_t vaddr, uint64_t filesz, uint64_t memsz, uint64_t align)
{
    if (img->nseg < 16)
        img->seg[img->nseg++] = (struct eg_seg){type, flags, offset, vaddr, filesz, memsz, align};
    return img;
}

/* Little-endian stores. */
static void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }

/* The ELF header and program headers, 64 + 56 * nseg bytes, into buf. */
static void encode_headers(const struct eg_image *img, unsigned char *buf)
{
    memcpy(buf, "\177ELF\2\1\1", 7);
    put16(buf + 16, img->type);
    put16(buf + 18, img->machine ? img->machine : EG_EM_X86_64);
    put32(buf + 20, 1);
    put64(buf + 24, img->entry);
    put64(buf + 32, 64);                 /* e_phoff */
    put16(buf + 52, 64);                 /* e_ehsize */
    put16(buf + 54, 56);                 /* e_phentsize */
    put16(buf + 56, (uint16_t)img->nseg);
    put16(buf + 58, 64);                 /* e_shentsize */
    for (int i = 0; i < img->nseg; i++) {
        unsigned char *p = buf + 64 + 56 * i;
        const struct eg_seg *s = &img->seg[i];
        put32(p, s->type);
        put32(p + 4, s->flags);
        put64(p + 8, s->offset);
        put64(p + 16, s->vaddr);
        put64(p + 24, s->vaddr);
        put64(p + 32, s->filesz);
        put64(p + 40, s->memsz);
        put64(p + 48, s->align);
    }
}

/* Bytes the file needs: headers, every segment's file part, the interpreter string. */
static uint64_t natural_size(const struct eg_image *img)
{
    uint64_t size = 64 + 56 * (uint64_t)img->nseg;
    for (int i = 0; i < img->nseg; i++) {
        uint64_t end = img->seg[i].offset + img->seg[i].filesz;
        if (end > size && end - img->seg[i].offset < (1ULL << 30))
            size = end;
    }
    return size;
}

/* Write img to path with mode; 0, or -errno. */
static int eg_write(const char *path, const struct eg_image *img, unsigned mode)
{
    uint64_t size = img->file_size ? img->file_size : natural_size(img);
    if (img->truncate_at)
        size = img->truncate_at;
    uint64_t buf_size = natural_size(img) > size ? natural_size(img) : size;
    unsigned char *buf = calloc(1, buf_size);
    if (!buf)
        return -ENOMEM;
    encode_headers(img, buf);
    for (int i = 0; i < img->nseg && img->interp; i++)
        if (img->seg[i].type == EG_PT_INTERP && img->seg[i].offset + strlen(img->interp) + 1 <= buf_size)
            memcpy(buf + img->seg[i].offset, img->interp, strlen(img->interp) + 1);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    int err = 0;
    if (fd < 0)
        err = -errno;
    else if (write(fd, buf, size) != (ssize_t)size)
        err = -EIO;
    if (fd >= 0) {
        fchmod(fd, mode);
        close(fd);
    }
    free(buf);
    return err;
}

#endif
