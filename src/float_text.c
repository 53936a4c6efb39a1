/*
 * float_text.c — FLOAT64 as text, both ways: the shortest text that reads
 * back as the same double, and a strict reader of the decimals JSON writes.
 * Below value.c and wkt.c, which both read and write coordinates and cells.
 */
#include "colibri/float_text.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"

/*
 * The fast path of float_format, for values that are a short decimal in
 * fixed notation (prices, distances, coordinates): find the fewest decimals
 * d such that m / 10^d (m an integer below 10^15) is f again. Both m and
 * 10^d are exact doubles, so the division is correctly rounded and gives the
 * double nearest to m·10^-d, which is what strtod reads back; and as m has
 * at most 15 significant digits and f lies within half an ulp of m·10^-d,
 * "%.15g" prints exactly m·10^-d with trailing zeros dropped — the bytes
 * below. "%g" turns to exponent notation below 1e-4 and from 1e15 up: those,
 * zeros and anything else not found here take the printf path.
 */
static size_t float_short(double f, char *buf)
{
    static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                  1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18 };
    double a = fabs(f);
    char dg[24], *p = buf;

    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    for (int d = 0; d <= 18 && a * p10[d] < 1e15; d++) {
        double md = nearbyint(a * p10[d]);
        if (md / p10[d] != a)
            continue;
        uint64_t m = (uint64_t)md;
        int n = 0;
        do {
            dg[n++] = (char)('0' + m % 10);
            m /= 10;
        } while (m);
        while (n <= d)                      /* at least one digit before the point */
            dg[n++] = '0';
        if (f < 0)
            *p++ = '-';
        int i = n - 1;
        for (; i >= d; i--)
            *p++ = dg[i];
        int last = 0;                       /* drop trailing zeros, as %g does */
        while (last < d && dg[last] == '0')
            last++;
        if (last < d) {
            *p++ = '.';
            for (; i >= last; i--)
                *p++ = dg[i];
        }
        *p = '\0';
        return (size_t)(p - buf);
    }
    return 0;
}

size_t float_format(double f, char *buf)
{
    int n = 0;
    size_t k;

    if (!isfinite(f)) {         /* coercion never lets these in; keep JSON valid anyway */
        memcpy(buf, "null", 5);
        return 4;
    }
    if ((k = float_short(f, buf)) != 0)
        return k;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, f);
        if (strtod(buf, NULL) == f)
            break;
    }
    return (size_t)n;
}

/*
 * A decimal number as JSON writes one, plus an optional '+' and a bare
 * leading or trailing '.'. strtod alone would also take hex, "inf", "nan" and
 * leading blanks, none of which a JSON reader could get back out.
 */
int float_parse(const char *p, size_t n, double *out, bool *range)
{
    /* Longer numeric strings are refused rather than copied to the heap. */
    char tmp[128];
    size_t i = 0, mant = 0;
    double f;

    *range = false;
    if (n >= sizeof tmp)
        return COLIBRI_EINVAL;
    if (i < n && (p[i] == '-' || p[i] == '+'))
        i++;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
        mant++;
    if (i < n && p[i] == '.')
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            mant++;
    if (mant == 0)
        return COLIBRI_EINVAL;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        size_t e0;
        i++;
        if (i < n && (p[i] == '-' || p[i] == '+'))
            i++;
        for (e0 = i; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            ;
        if (i == e0)
            return COLIBRI_EINVAL;
    }
    if (i != n)
        return COLIBRI_EINVAL;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    f = strtod(tmp, NULL);
    if (!isfinite(f)) {
        *range = true;
        return COLIBRI_EINVAL;
    }
    *out = f;
    return 0;
}
