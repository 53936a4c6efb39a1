/*
 * base64.h — RFC 4648 base64, both alphabets.
 *
 * Two decoders with two contracts: the lenient one reads what Google APIs
 * send (Pub/Sub data, JWT parts, JWK numbers: either alphabet, padded or
 * not); the strict one reads colibri's own cursors, where any other spelling
 * of the same bytes must be refused so that a cursor has one form only.
 */
#ifndef COLIBRI_BASE64_H
#define COLIBRI_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Characters base64_encode writes for n bytes (without the NUL). */
size_t base64_encoded_len(size_t n, bool url);

/*
 * Encode n bytes of p into out (base64_encoded_len + 1 bytes), NUL-terminated.
 * url: the URL-safe alphabet without padding (base64url); otherwise the
 * standard alphabet with '=' padding.
 */
void base64_encode(const unsigned char *p, size_t n, char *out, bool url);

/*
 * Decode standard or URL-safe base64, padded or not, ignoring nothing:
 * any other byte is an error. *out is NUL-terminated; caller frees.
 * COLIBRI_EINVAL on bad input, COLIBRI_ENOMEM.
 */
int base64_decode(const char *in, size_t n, char **out, size_t *outlen);

/*
 * Decode base64url strictly: URL-safe alphabet only, no padding, unused
 * trailing bits zero. out has room for n * 3 / 4 bytes. Returns the length,
 * or -1 on bad input.
 */
long base64url_decode_strict(const char *s, size_t n, unsigned char *out);

/*
 * Whether s[0..n) is the one standard base64 text of its bytes: the
 * standard alphabet, '=' padding to a multiple of 4, unused bits zero
 * (BigQuery's BYTES).
 */
bool base64_std_canonical(const char *s, size_t n);

#endif
