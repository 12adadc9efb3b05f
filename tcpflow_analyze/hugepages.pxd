# Large zeroed blocks of C memory in transparent huge pages (declarations
# only: no module).  arenas.pxd carves the interpreter's arenas from such
# blocks, engine/flowtable.pxd its slot arrays: from 2 MiB on, a block is a
# mapping of its own, aligned to 2 MiB and advised MADV_HUGEPAGE, so the
# kernel faults it in 2 MiB at a time, not 4 KiB (bench/README: "The heap in
# transparent huge pages").  Smaller blocks, and systems other than Linux,
# get calloc's memory; TCPFLOW_ANALYZE_HUGE_PAGES=0 leaves out the advice.
cdef extern from *:
    """
    #include <stdlib.h>
    #if defined(__linux__)
    #include <stdint.h>
    #include <sys/mman.h>
    #endif
    #define TFA_HUGE ((size_t)2 << 20)
    #if defined(__linux__) && defined(MADV_HUGEPAGE)
    static int tfa_huge_wanted(void) {
        const char *v = getenv("TCPFLOW_ANALYZE_HUGE_PAGES");
        return !(v != NULL && v[0] == '0' && v[1] == 0);
    }
    /* ``size`` zeroed bytes, from 2 MiB on a mapping of their own (whether
       or not advised: tfa_big_free tells the two kinds by size alone);
       *advised: whether they took the huge-page advice. */
    static void *tfa_big_zeroed(size_t size, int *advised) {
        *advised = 0;
        if (size < TFA_HUGE)
            return calloc(1, size);
        size_t span = size + TFA_HUGE;
        char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED)
            return NULL;
        char *start = (char *)(((uintptr_t)raw + TFA_HUGE - 1) & ~(uintptr_t)(TFA_HUGE - 1));
        char *end = start + size;
        if (start > raw)
            munmap(raw, (size_t)(start - raw));
        if (raw + span > end)
            munmap(end, (size_t)(raw + span - end));
        *advised = tfa_huge_wanted() && madvise(start, size, MADV_HUGEPAGE) == 0;
        return start;
    }
    /* A block of tfa_big_zeroed's (of the same size) given back. */
    static void tfa_big_free(void *p, size_t size) {
        if (size < TFA_HUGE)
            free(p);
        else if (p != NULL)
            munmap(p, size);
    }
    #else
    static void *tfa_big_zeroed(size_t size, int *advised) { *advised = 0; return calloc(1, size); }
    static void tfa_big_free(void *p, size_t size) { free(p); }
    #endif
    """
    void *tfa_big_zeroed(size_t size, int *advised) nogil
    void tfa_big_free(void *p, size_t size) nogil
