# C types for model/sha1.py (pure-Python mode: sha1.py is the one source).
# digest() is the compiled build's SHA-1 of a C buffer: model/community_id.pxd
# and engine/zeek.pxd cimport it, a C call per identifier.
import cython
from libc.stdint cimport uint32_t
from libc.string cimport memcpy, memset

# One block by x86's SHA extensions (Intel SHA Extensions, 2013): the
# message schedule four words at a time (sha1msg1, xor, sha1msg2) and four
# rounds an instruction (sha1rnds4, its immediate the round function of
# FIPS 180-4 4.1.1), E carried by sha1nexte.  Compiled for those
# instructions alone (a target attribute), called only where CPUID says
# the processor has them; elsewhere, and on other compilers and machines,
# tfa_sha_ni_available() is 0 and _compress runs.
cdef extern from *:
    """
    #if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    #include <cpuid.h>
    #include <immintrin.h>
    static int tfa_sha_ni_available(void) {
        unsigned int a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
            return 0;                                   /* SSSE3, SSE4.1 */
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
            return 0;
        return (b >> 29) & 1;                           /* SHA */
    }
    #define TFA_SCHEDULE(ma, mb, mc, md) \
        ma = _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32(ma, mb), mc), md)
    #define TFA_ROUNDS(m, f) \
        e = _mm_sha1nexte_epu32(prev, m); prev = abcd; abcd = _mm_sha1rnds4_epu32(abcd, e, f)
    __attribute__((target("sha,sse4.1,ssse3")))
    static void tfa_sha1_ni(uint32_t *h, const unsigned char *block) {
        /* Words big-endian, W0 in the top lane: the 16 bytes reversed. */
        const __m128i swap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
        __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1B);
        __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
        __m128i abcd0 = abcd, e, prev;
        __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)block), swap);
        __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16)), swap);
        __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 32)), swap);
        __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 48)), swap);
        e = _mm_add_epi32(e0, m0); prev = abcd; abcd = _mm_sha1rnds4_epu32(abcd, e, 0);
        TFA_ROUNDS(m1, 0); TFA_ROUNDS(m2, 0); TFA_ROUNDS(m3, 0);
        TFA_SCHEDULE(m0, m1, m2, m3); TFA_ROUNDS(m0, 0);
        TFA_SCHEDULE(m1, m2, m3, m0); TFA_ROUNDS(m1, 1);
        TFA_SCHEDULE(m2, m3, m0, m1); TFA_ROUNDS(m2, 1);
        TFA_SCHEDULE(m3, m0, m1, m2); TFA_ROUNDS(m3, 1);
        TFA_SCHEDULE(m0, m1, m2, m3); TFA_ROUNDS(m0, 1);
        TFA_SCHEDULE(m1, m2, m3, m0); TFA_ROUNDS(m1, 1);
        TFA_SCHEDULE(m2, m3, m0, m1); TFA_ROUNDS(m2, 2);
        TFA_SCHEDULE(m3, m0, m1, m2); TFA_ROUNDS(m3, 2);
        TFA_SCHEDULE(m0, m1, m2, m3); TFA_ROUNDS(m0, 2);
        TFA_SCHEDULE(m1, m2, m3, m0); TFA_ROUNDS(m1, 2);
        TFA_SCHEDULE(m2, m3, m0, m1); TFA_ROUNDS(m2, 2);
        TFA_SCHEDULE(m3, m0, m1, m2); TFA_ROUNDS(m3, 3);
        TFA_SCHEDULE(m0, m1, m2, m3); TFA_ROUNDS(m0, 3);
        TFA_SCHEDULE(m1, m2, m3, m0); TFA_ROUNDS(m1, 3);
        TFA_SCHEDULE(m2, m3, m0, m1); TFA_ROUNDS(m2, 3);
        TFA_SCHEDULE(m3, m0, m1, m2); TFA_ROUNDS(m3, 3);
        e = _mm_sha1nexte_epu32(prev, e0);
        _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(_mm_add_epi32(abcd, abcd0), 0x1B));
        h[4] = (uint32_t)_mm_extract_epi32(e, 3);
    }
    #undef TFA_SCHEDULE
    #undef TFA_ROUNDS
    #else
    static int tfa_sha_ni_available(void) { return 0; }
    static void tfa_sha1_ni(uint32_t *h, const unsigned char *block) { (void)h; (void)block; }
    #endif
    """
    bint _sha_ni_available "tfa_sha_ni_available"() noexcept
    void _compress_ni "tfa_sha1_ni"(uint32_t *h, const unsigned char *block) noexcept

cdef bint _SHA_NI

@cython.locals(h=uint32_t[5], tail="unsigned char[128]", done=Py_ssize_t, rest=Py_ssize_t, end=Py_ssize_t,
               bits="unsigned long long", i=int)
cdef void digest(const unsigned char *msg, Py_ssize_t n, unsigned char *out) noexcept

@cython.locals(w=uint32_t[80], t=int, x=uint32_t, a=uint32_t, b=uint32_t, c=uint32_t, d=uint32_t, e=uint32_t,
               k=uint32_t)
cdef void _compress(uint32_t *h, const unsigned char *block) noexcept

cdef inline void _block(uint32_t *h, const unsigned char *block) noexcept
