/*
 * fuzz_decimal.c — decimal_canon and decimal_key (src/decimal.c), the exact
 * NUMERIC/BIGNUMERIC reader.
 *
 * Input: one byte choosing the limits (NUMERIC 29/9, BIGNUMERIC 38/38, or
 * small ones), then two texts split at the first NUL. Asserted:
 *   success: the text is canonical (optional '-', no leading zero but "0",
 *   '.' only with digits after it and no trailing zero, no "-0"), within the
 *   digit limits (decimal_digits), reads back to itself (idempotent), and
 *   strtod reads the input and the canonical text as the same double;
 *   refusal: EINVAL with one of the three reasons, out empty;
 *   two successes: keys are equal exactly when the canonical texts are, and
 *   key order is numeric order (a reference comparison of canonical texts).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/decimal.h"
#include "colibri/error.h"

static const int limits[][2] = { {29, 9}, {38, 38}, {3, 2}, {1, 0} };

/* Numeric order of two canonical decimals: -1, 0, 1. */
static int ref_cmp(const char *a, const char *b)
{
    bool na = a[0] == '-', nb = b[0] == '-';
    if (na != nb)
        return na ? -1 : 1;
    int sign = na ? -1 : 1;
    a += na, b += nb;
    size_t ia = strcspn(a, "."), ib = strcspn(b, ".");
    if (!strcmp(a, "0") || !strcmp(b, "0")) {   /* zero against a positive */
        int za = !strcmp(a, "0"), zb = !strcmp(b, "0");
        return za == zb ? 0 : za ? -sign : sign;
    }
    if (ia != ib)
        return ia < ib ? -sign : sign;
    int c = strncmp(a, b, ia);
    if (c)
        return c < 0 ? -sign : sign;
    const char *fa = a[ia] ? a + ia + 1 : "", *fb = b[ib] ? b + ib + 1 : "";
    c = strcmp(fa, fb);     /* no trailing zeros: plain string order */
    return c == 0 ? 0 : c < 0 ? -sign : sign;
}

static int check(const char *in, size_t n, int imax, int scale, char *out)
{
    char why[64] = "", again[DEC_TEXT_MAX];
    size_t len, len2;
    int rc = decimal_canon(in, n, imax, scale, out, &len, why, sizeof why);
    if (rc) {
        assert(rc == COLIBRI_EINVAL && len == 0 && out[0] == '\0');
        assert(!strcmp(why, "not a number") || !strncmp(why, "at most ", 8));
        return rc;
    }
    assert(len == strlen(out) && len > 0 && len < DEC_TEXT_MAX);
    const char *d = out + (out[0] == '-');
    assert(strcmp(out, "-0") && d[0] >= '0' && d[0] <= '9');
    assert(d[0] != '0' || d[1] == '\0' || d[1] == '.');
    const char *dot = strchr(out, '.');
    if (dot)
        assert(dot[1] && out[len - 1] != '0');
    for (const char *p = d; *p; p++)
        assert((*p >= '0' && *p <= '9') || p == dot);
    int id, fd;
    decimal_digits(out, len, &id, &fd);
    assert(id <= imax && fd <= scale);
    assert(decimal_canon(out, len, imax, scale, again, &len2, NULL, 0) == 0);
    assert(len2 == len && !memcmp(again, out, len));
    /* the same number as strtod reads it (both texts are plain decimals) */
    char *tmp = malloc(n + 1);
    memcpy(tmp, in, n);
    tmp[n] = '\0';
    if (strlen(tmp) == n && n < 200) {
        double x = strtod(tmp, NULL), y = strtod(out, NULL);
        assert(x == y || (x == 0 && y == 0));
    }
    free(tmp);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char a[DEC_TEXT_MAX], b[DEC_TEXT_MAX], ka[DEC_KEY_LEN], kb[DEC_KEY_LEN];
    if (size < 1)
        return 0;
    const int *lim = limits[data[0] % 4];
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    const char *nul = memchr(text, '\0', n);
    size_t n1 = nul ? (size_t)(nul - text) : n;
    int ra = check(text, n1, lim[0], lim[1], a);
    if (!nul)
        return 0;
    int rb = check(nul + 1, n - n1 - 1, lim[0], lim[1], b);
    if (ra || rb)
        return 0;
    decimal_key(a, strlen(a), ka);
    decimal_key(b, strlen(b), kb);
    int kc = memcmp(ka, kb, DEC_KEY_LEN), rc = ref_cmp(a, b);
    assert((kc < 0 ? -1 : kc > 0) == rc);
    assert((kc == 0) == (strcmp(a, b) == 0));
    return 0;
}
