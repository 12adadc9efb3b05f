# C for arenas.py (pure-Python mode: arenas.py is the one source).  The
# arena allocator below hands Python's small-object allocator (obmalloc)
# its arenas carved from 64 MiB chunks aligned to 2 MiB and marked for
# transparent huge pages (madvise MADV_HUGEPAGE), so that a run's heap
# faults in 2 MiB at a time, not 4 KiB.  Linux only; elsewhere, or where
# a chunk cannot be mapped, the interpreter's own allocator serves.
cdef extern from *:
    """
    #if defined(__linux__)
    #include <sys/mman.h>
    #endif
    #if defined(__linux__) && defined(MADV_HUGEPAGE)
    #include <stdint.h>
    #include <stdlib.h>
    #define TFA_CHUNK ((size_t)64 << 20)
    #define TFA_HUGE ((size_t)2 << 20)
    #define TFA_MAX_CHUNKS 4096
    static PyObjectArenaAllocator tfa_prev;
    static int tfa_installed = 0;
    static char *tfa_next = NULL;           /* the newest chunk's part not yet handed out */
    static size_t tfa_left = 0;
    static char *tfa_chunks[TFA_MAX_CHUNKS];
    static int tfa_nchunks = 0;
    static void **tfa_freed = NULL;         /* arenas given back, handed out again first */
    static size_t tfa_nfreed = 0, tfa_room = 0;
    static size_t tfa_arena_size = 0;       /* the one size obmalloc asks for */
    static size_t tfa_huge_chunks = 0;      /* chunks that took the advice */
    static size_t tfa_given_back = 0;       /* arenas of ours freed (for the tests) */

    static int tfa_ours(const char *p) {
        for (int i = 0; i < tfa_nchunks; i++)
            if (p >= tfa_chunks[i] && p < tfa_chunks[i] + TFA_CHUNK)
                return 1;
        return 0;
    }

    static int tfa_new_chunk(void) {
        if (tfa_nchunks == TFA_MAX_CHUNKS)
            return 0;
        size_t span = TFA_CHUNK + TFA_HUGE;
        char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED)
            return 0;
        char *start = (char *)(((uintptr_t)raw + TFA_HUGE - 1) & ~(uintptr_t)(TFA_HUGE - 1));
        char *end = start + TFA_CHUNK;
        if (start > raw)
            munmap(raw, (size_t)(start - raw));
        if (raw + span > end)
            munmap(end, (size_t)(raw + span - end));
        if (madvise(start, TFA_CHUNK, MADV_HUGEPAGE) == 0)
            tfa_huge_chunks++;
        tfa_chunks[tfa_nchunks++] = start;
        tfa_next = start;
        tfa_left = TFA_CHUNK;
        return 1;
    }

    static void *tfa_alloc(void *ctx, size_t size) {
        if (tfa_arena_size == 0)
            tfa_arena_size = size;
        if (size == tfa_arena_size && size <= TFA_CHUNK) {
            if (tfa_nfreed)
                return tfa_freed[--tfa_nfreed];
            if (tfa_left >= size || tfa_new_chunk()) {
                void *p = tfa_next;
                tfa_next += size;
                tfa_left -= size;
                return p;
            }
        }
        return tfa_prev.alloc(tfa_prev.ctx, size);
    }

    static void tfa_free(void *ctx, void *ptr, size_t size) {
        if (ptr == NULL || size != tfa_arena_size || !tfa_ours((const char *)ptr)) {
            tfa_prev.free(tfa_prev.ctx, ptr, size);
            return;
        }
        /* Its memory goes back to the system; its addresses are kept for
           the next arena (a chunk is never unmapped). */
        madvise(ptr, size, MADV_DONTNEED);
        tfa_given_back++;
        if (tfa_nfreed == tfa_room) {
            size_t room = tfa_room ? 2 * tfa_room : 64;
            void **grown = (void **)realloc(tfa_freed, room * sizeof(void *));
            if (grown == NULL)
                return;                     /* the addresses only are lost */
            tfa_freed = grown;
            tfa_room = room;
        }
        tfa_freed[tfa_nfreed++] = ptr;
    }

    static int tfa_install(void) {
        if (tfa_installed)
            return 0;
        PyObjectArenaAllocator mine = {NULL, tfa_alloc, tfa_free};
        PyObject_GetArenaAllocator(&tfa_prev);
        PyObject_SetArenaAllocator(&mine);
        tfa_installed = 1;
        return 1;
    }
    #else
    static int tfa_install(void) { return 0; }
    static size_t tfa_huge_chunks = 0, tfa_given_back = 0;
    static int tfa_nchunks = 0;
    #endif
    """
    int tfa_install()
    size_t tfa_huge_chunks, tfa_given_back
    int tfa_nchunks

cpdef bint huge_page_arenas()
cpdef tuple chunks()
