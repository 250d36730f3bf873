/*
 * /proc/PID/maps, byte for byte as fs/proc/task_mmu.c prints it, and load-maps: an
 * address space built from such a listing.
 */
#include "mm/internal.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

/* The name column (see get_vma_name()). */
const char *mm_vma_special_name(const struct mm *mm, const struct vm_area *vma)
{
    if (vma->ops && vma->ops->name) {
        const char *n = vma->ops->name((struct vm_area *)vma);
        if (n)
            return n;
    }
    /* vma_is_initial_heap(): strict, so the bss ending at start_brk is not [heap]. */
    if (vma_start(vma) < mm->brk && vma_end(vma) > mm->start_brk)
        return "[heap]";
    if (mm->start_stack && vma_start(vma) <= mm->start_stack && vma_end(vma) >= mm->start_stack)
        return "[stack]";
    return NULL;
}

/* One maps line into buf; returns its length. */
static size_t format_line(const struct mm *mm, const struct vm_area *v, char *buf, size_t size)
{
    uint64_t pgoff = 0, ino = 0;
    unsigned maj = 0, min = 0;
    const char *name = NULL;
    char namebuf[4200];
    if (v->file) {
        pgoff = v->pgoff << PAGE_SHIFT;
        maj = v->file->dev_major;
        min = v->file->dev_minor;
        ino = v->file->ino;
        if (v->anon_name && v->file->is_shmem) {
            snprintf(namebuf, sizeof(namebuf), "[anon_shmem:%s]", v->anon_name->name);
            name = namebuf;
        } else {
            name = v->file->path;
        }
    } else {
        name = mm_vma_special_name(mm, v);
        if (!name && v->anon_name) {
            snprintf(namebuf, sizeof(namebuf), "[anon:%s]", v->anon_name->name);
            name = namebuf;
        }
    }
    int n = snprintf(buf, size, "%08" PRIx64 "-%08" PRIx64 " %c%c%c%c %08" PRIx64 " %02x:%02x %" PRIu64 " ",
                     vma_start(v), vma_end(v), v->flags & VM_READ ? 'r' : '-', v->flags & VM_WRITE ? 'w' : '-',
                     v->flags & VM_EXEC ? 'x' : '-', v->flags & VM_MAYSHARE ? 's' : 'p', pgoff, maj, min, ino);
    if (name) {
        while (n < 73)
            buf[n++] = ' ';
        n += snprintf(buf + n, size - (size_t)n, "%s", name);
    }
    buf[n++] = '\n';
    buf[n] = '\0';
    return (size_t)n;
}

void mm_print_maps(const struct mm *mm, FILE *out)
{
    char line[4400];
    for (const struct vm_area *v = mm_first_vma(mm); v; v = vma_next(v)) {
        format_line(mm, v, line, sizeof(line));
        fputs(line, out);
    }
    /* The gate area is not a VMA but every x86-64 process lists it. */
    fputs("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n", out);
}

/* ---- load-maps -------------------------------------------------------------------- */

static int load_error(char *err, size_t errlen, int line, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "line %d: ", line);
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static const char *special_vma_name(struct vm_area *vma)
{
    return vma->private_data;
}

static const struct vm_operations special_ops = {.name = special_vma_name};

/* A file identity from the listing itself, with a host descriptor when it opens. */
static struct mm_file *listed_file(const char *path, unsigned maj, unsigned min, uint64_t ino, bool shared_w)
{
    int err = 0;
    struct mm_file *f = mm_file_open(path, O_RDONLY, &err);
    if (!f)
        f = mm_file_unbacked(path, maj, min, ino);
    if (!f)
        return NULL;
    f->dev_major = maj;
    f->dev_minor = min;
    f->ino = ino;
    f->readable = true;
    f->writable = f->writable || shared_w;
    return f;
}

struct listed {
    char path[4096];
    struct mm_file *file;
};

/* Build one VMA from a parsed line. */
static int load_one(struct mm *mm, uint64_t start, uint64_t end, const char *perms, uint64_t off, unsigned maj,
                    unsigned min, uint64_t ino, const char *name, struct listed *cache, int ncache, int *nused)
{
    bool shared = perms[3] == 's';
    uint64_t flags = (perms[0] == 'r' ? VM_READ : 0) | (perms[1] == 'w' ? VM_WRITE : 0) |
                     (perms[2] == 'x' ? VM_EXEC : 0) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
    struct vm_area *v = vma_alloc(mm);
    if (!v)
        return -ENOMEM;
    vma_set_range(v, start, end, start >> PAGE_SHIFT);
    if (shared)
        flags |= VM_MAYSHARE | ((flags & VM_WRITE) ? VM_SHARED : 0);
    if (name[0] == '/' && !strstr(name, " (deleted)")) {
        struct mm_file *f = NULL;
        for (int i = 0; i < *nused; i++)
            if (!strcmp(cache[i].path, name))
                f = cache[i].file;
        if (!f) {
            f = listed_file(name, maj, min, ino, shared && (flags & VM_WRITE));
            if (!f) {
                free(v);
                return -ENOMEM;
            }
            if (*nused < ncache) {
                snprintf(cache[*nused].path, sizeof(cache[*nused].path), "%s", name);
                cache[(*nused)++].file = f;
            }
        }
        v->file = mm_file_get(f);
        v->pgoff = off >> PAGE_SHIFT;
        if (!shared && (flags & VM_WRITE))
            flags |= VM_ACCOUNT;
    } else if (shared) {
        /* Shared anonymous memory, SysV segments: a shmem object with the listed name. */
        struct mm_file *f = mm_file_unbacked(name[0] ? name : "/dev/zero (deleted)", maj, min, ino);
        if (!f) {
            free(v);
            return -ENOMEM;
        }
        f->writable = f->is_shmem = true;
        f->size = off + (end - start); /* the object reaches at least this far: no SIGBUS */
        v->file = f;
        v->pgoff = off >> PAGE_SHIFT;
        flags |= VM_SHARED;
    } else if (!strcmp(name, "[vdso]") || !strcmp(name, "[vvar]") || !strcmp(name, "[vvar_vclock]")) {
        v->ops = &special_ops;
        v->private_data = (void *)(!strcmp(name, "[vdso]") ? "[vdso]" : !strcmp(name, "[vvar]") ? "[vvar]"
                                                                                                 : "[vvar_vclock]");
        flags |= VM_DONTEXPAND | VM_DONTDUMP | (strcmp(name, "[vdso]") ? VM_IO | VM_PFNMAP : 0);
        v->pgoff = 0;
    } else {
        /* Anonymous. */
        if (flags & VM_WRITE)
            flags |= VM_ACCOUNT;
        if (!strcmp(name, "[stack]")) {
            flags |= VM_GROWSDOWN;
            mm->start_stack = end - 8;
        } else if (!strcmp(name, "[heap]")) {
            mm->start_brk = start;
            mm->brk = end;
        } else if (!strncmp(name, "[anon:", 6)) {
            char nm[256];
            size_t n = strlen(name + 6);
            if (n && n < sizeof(nm)) {
                memcpy(nm, name + 6, n - 1);
                nm[n - 1] = '\0';
                v->anon_name = anon_name_new(nm);
            }
        }
        /* Touched areas get an anon_vma of their own, so they never merge with each
         * other.  Not [heap]: mm_load_maps() gives it its neighbour's afterwards. */
        if (strcmp(name, "[heap]")) {
            v->anon_vma = anon_vma_new(mm);
            v->anon_chain = 1;
        }
    }
    v->flags = flags;
    vma_link(mm, v);
    vm_stat_account(mm, flags, (long)vma_pages(v));
    return 0;
}

/*
 * What a listing cannot show about private file mappings, inferred as the dynamic
 * loader leaves them: a writable one was written (relocations, .data), so it has an
 * anon_vma; a read-only one directly below it, of the same file at contiguous
 * offsets, is its RELRO part - mapped writable, relocated, then made read-only by
 * mprotect - so it kept VM_ACCOUNT and shares that anon_vma.  Without this, two
 * adjacent read-only segments of a library would look mergeable when Linux keeps them
 * apart.
 */
static void infer_written_file_areas(struct mm *mm)
{
    for (struct vm_area *v = mm_first_vma(mm); v; v = vma_next(v)) {
        if (!v->file || (v->flags & VM_MAYSHARE) || !(v->flags & VM_WRITE) || v->file->is_dev_zero)
            continue;
        if (!v->anon_vma) {
            v->anon_vma = anon_vma_new(mm);
            v->anon_chain = 1;
        }
        struct vm_area *p = vma_prev(v);
        if (p && p->file && vma_end(p) == vma_start(v) && !(p->flags & (VM_WRITE | VM_MAYSHARE)) &&
            !strcmp(p->file->path, v->file->path) && p->pgoff + vma_pages(p) == v->pgoff && !p->anon_vma) {
            vma_set_flags(mm, p, p->flags | VM_ACCOUNT);
            p->anon_vma = anon_vma_get(v->anon_vma);
            p->anon_chain = 1;
        }
    }
}

int mm_load_maps(struct mm *mm, const char *text, char *err, size_t errlen)
{
    static struct listed cache[64];
    int nused = 0, lineno = 0, rc = 0;
    uint64_t exe_end = 0;
    const char *exe = NULL;
    size_t exe_len = 0;
    bool have_heap = false;

    /* Start from nothing. */
    while (mm->vmas.first) {
        struct vm_area *v = vma_of(mm->vmas.first);
        do_munmap_range(mm, vma_start(v), vma_end(v));
    }
    mm->start_brk = mm->brk = mm->start_stack = 0;

    for (const char *p = text; *p && !rc;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char line[4400];
        lineno++;
        if (n >= sizeof(line)) {
            rc = load_error(err, errlen, lineno, "line too long");
            break;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + (eol ? 1 : 0);
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            continue;
        uint64_t start, end, off, ino;
        unsigned maj, min;
        char perms[5];
        int pos = 0;
        if (sscanf(s, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 "%n", &start, &end, perms, &off, &maj,
                   &min, &ino, &pos) != 7 ||
            strlen(perms) != 4) {
            rc = load_error(err, errlen, lineno, "expected 'START-END PERMS OFFSET MAJ:MIN INODE [NAME]'");
            break;
        }
        char *name = s + pos;
        while (*name == ' ' || *name == '\t')
            name++;
        for (char *e = name + strlen(name); e > name && isspace((unsigned char)e[-1]);)
            *--e = '\0';
        if (!strcmp(name, "[vsyscall]"))
            continue;
        if (start >= end || (start | end) & ~PAGE_MASK || end > mm->task_size) {
            rc = load_error(err, errlen, lineno, "bad range %" PRIx64 "-%" PRIx64, start, end);
            break;
        }
        if (vma_tree_find_intersection(&mm->vmas, start, end)) {
            rc = load_error(err, errlen, lineno, "range %" PRIx64 "-%" PRIx64 " overlaps an earlier line", start, end);
            break;
        }
        if (!exe && name[0] == '/') {
            exe = strstr(text, name);
            exe_len = strlen(name);
        }
        if (exe && name[0] == '/' && strlen(name) == exe_len && !strncmp(name, exe, exe_len))
            exe_end = end;
        else if (exe && !name[0] && exe_end == start)
            exe_end = end; /* the bss right after the program */
        if (!strcmp(name, "[heap]"))
            have_heap = true;
        int e = load_one(mm, start, end, perms, off, maj, min, ino, name, cache, 64, &nused);
        if (e)
            rc = load_error(err, errlen, lineno, "out of memory");
    }
    for (int i = 0; i < nused; i++)
        mm_file_put(cache[i].file);
    if (!rc)
        infer_written_file_areas(mm);
    /* The program wrote its heap: anon_vma_prepare() then gave [heap] the anon_vma of
     * the compatible bss below it (or one of its own), so the two merge once their
     * flags agree, and a part moved away by mremap keeps its pgoff. */
    if (!rc && have_heap)
        vma_anon_prepare(mm, mm_vma_lookup(mm, mm->start_brk));
    if (!rc && !have_heap)
        mm->start_brk = mm->brk = exe_end;
    mm_validate(mm);
    return rc;
}
