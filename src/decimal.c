/*
 * decimal.c — exact decimal text for NUMERIC and BIGNUMERIC (decimal.h).
 *
 * No arithmetic is ever done: a decimal is its significant digits and the
 * place of the point, which is all canonical text, digit-count checks and the
 * order key need.
 */
#include "colibri/decimal.h"

#include <string.h>

#include "colibri/error.h"

#define EXP_CLAMP 100000L   /* any exponent past this is out of range anyway */

int decimal_canon(const char *p, size_t n, int int_max, int scale, char *out, size_t *outlen,
                  char *why, size_t whylen)
{
    char sig[2 * DEC_DIGITS_MAX + 1];   /* significant digits, first nonzero .. last nonzero */
    size_t i = 0, nsig = 0, zeros = 0, ndig = 0;
    long ip = 0, lead = 0, e = 0, pos;  /* point: digits before it, leading zeros, exponent */
    bool neg = false, point = false, any = false, over = false;

    *outlen = 0;
    out[0] = '\0';
    if (i < n && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    for (; i < n; i++) {
        if (p[i] == '.' && !point) {
            point = true;
            continue;
        }
        if (p[i] < '0' || p[i] > '9')
            break;
        any = true;
        ndig++;
        if (!point)
            ip++;
        if (p[i] == '0') {
            if (nsig == 0 && !over)
                lead++;
            else
                zeros++;            /* kept only if a nonzero digit follows */
            continue;
        }
        if (nsig + zeros + 1 > sizeof sig) {
            over = true;            /* more significant digits than any type takes */
            nsig += zeros + 1;
            zeros = 0;
            continue;
        }
        memset(sig + nsig, '0', zeros);
        nsig += zeros;
        zeros = 0;
        sig[nsig++] = p[i];
    }
    if (!any)
        goto nan;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        bool eneg = false;
        size_t e0;
        if (++i < n && (p[i] == '-' || p[i] == '+'))
            eneg = p[i++] == '-';
        for (e0 = i; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            if (e < EXP_CLAMP)
                e = e * 10 + (p[i] - '0');
        if (i == e0)
            goto nan;
        e = eneg ? -e : e;
    }
    if (i != n)
        goto nan;
    if (nsig == 0) {                /* zero, whatever its sign and exponent */
        memcpy(out, "0", 2);
        *outlen = 1;
        return 0;
    }
    pos = ip - lead + e;            /* digits of sig before the point (may be <= 0 or > nsig) */
    long ints = pos > 0 ? pos : 0, fracs = (long)nsig - pos > 0 ? (long)nsig - pos : 0;
    if (ints > int_max) {
        colibri_errmsg(why, whylen, "at most %d integer digits", int_max);
        return COLIBRI_EINVAL;
    }
    if (fracs > scale) {
        colibri_errmsg(why, whylen, "at most %d fractional digits", scale);
        return COLIBRI_EINVAL;
    }
    char *o = out;
    if (neg)
        *o++ = '-';
    if (pos <= 0) {
        *o++ = '0';
    } else {
        for (long k = 0; k < pos; k++)
            *o++ = k < (long)nsig ? sig[k] : '0';
    }
    if (fracs > 0) {
        *o++ = '.';
        for (long k = pos; k < 0; k++)
            *o++ = '0';
        for (long k = pos > 0 ? pos : 0; k < (long)nsig; k++)
            *o++ = sig[k];
    }
    *o = '\0';
    *outlen = (size_t)(o - out);
    (void)ndig;
    return 0;
nan:
    colibri_errmsg(why, whylen, "not a number");
    return COLIBRI_EINVAL;
}

void decimal_digits(const char *canon, size_t n, int *int_digits, int *frac_digits)
{
    const char *dot = memchr(canon, '.', n);
    size_t start = n && canon[0] == '-';
    size_t ilen = (dot ? (size_t)(dot - canon) : n) - start;

    *int_digits = ilen == 1 && canon[start] == '0' ? 0 : (int)ilen;
    *frac_digits = dot ? (int)(n - (size_t)(dot - canon) - 1) : 0;
}

void decimal_key(const char *canon, size_t n, char *key)
{
    const char *dot = memchr(canon, '.', n);
    bool neg = n && canon[0] == '-';
    size_t start = neg, iend = dot ? (size_t)(dot - canon) : n, ilen = iend - start;

    memset(key, '0', DEC_KEY_LEN);
    key[0] = neg ? '0' : '1';
    if (ilen > DEC_DIGITS_MAX)
        ilen = DEC_DIGITS_MAX;      /* not from decimal_canon: keep the key's width */
    memcpy(key + 1 + DEC_DIGITS_MAX - ilen, canon + iend - ilen, ilen);
    if (dot) {
        size_t flen = n - iend - 1;
        memcpy(key + 1 + DEC_DIGITS_MAX, dot + 1, flen < DEC_DIGITS_MAX ? flen : DEC_DIGITS_MAX);
    }
    if (neg)
        for (size_t k = 1; k < DEC_KEY_LEN; k++)
            key[k] = (char)('9' - (key[k] - '0'));
}
