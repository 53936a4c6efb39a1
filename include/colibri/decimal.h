/*
 * decimal.h — exact decimals for NUMERIC and BIGNUMERIC, never through a double.
 *
 * A decimal is kept as its canonical text: optional '-', the integer digits
 * without leading zeros ("0" when none), then '.' and the fraction digits
 * without trailing zeros when there are any; zero is "0", never "-0".
 * That text is unique per value, so equality is a byte compare; order is a
 * byte compare of decimal_key.
 */
#ifndef COLIBRI_DECIMAL_H
#define COLIBRI_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>

#define DEC_DIGITS_MAX 38               /* integer and fraction digits, each, at most (BIGNUMERIC) */
#define DEC_TEXT_MAX (2 + 2 * DEC_DIGITS_MAX + 1)     /* '-', digits, '.', NUL */
#define DEC_KEY_LEN (1 + 2 * DEC_DIGITS_MAX)

/*
 * Read a decimal: [+-]digits[.digits][(e|E)[+-]digits], also ".5" and "5.",
 * into its canonical text in out (DEC_TEXT_MAX bytes, NUL-terminated), *outlen
 * its length. At most int_max integer digits and scale fraction digits
 * (trailing zeros do not count); nothing is ever rounded. On failure
 * COLIBRI_EINVAL and why (may be NULL) says which rule, as
 * "at most 29 integer digits" / "at most 9 fractional digits" / "not a number".
 */
int decimal_canon(const char *p, size_t n, int int_max, int scale, char *out, size_t *outlen,
                  char *why, size_t whylen);

/* Integer and fraction digits of a canonical decimal. */
void decimal_digits(const char *canon, size_t n, int *int_digits, int *frac_digits);

/*
 * The order key of a canonical decimal (DEC_KEY_LEN bytes, no NUL): '1' and
 * 38 + 38 zero-padded digits for >= 0; '0' and their nines' complement for
 * < 0. Byte order of keys is numeric order.
 */
void decimal_key(const char *canon, size_t n, char *key);

#endif
