/* base64.c — RFC 4648 base64: encode, a lenient and a strict decoder. */
#include "colibri/base64.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"

static const char std_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t base64_encoded_len(size_t n, bool url)
{
    return url ? (4 * n + 2) / 3 : 4 * ((n + 2) / 3);
}

void base64_encode(const unsigned char *p, size_t n, char *out, bool url)
{
    const char *tab = url ? url_tab : std_tab;
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8 | p[i]) & 0xffff;
        for (bits += 8; bits >= 6;) {
            bits -= 6;
            out[o++] = tab[acc >> bits & 63];
        }
    }
    if (bits)
        out[o++] = tab[acc << (6 - bits) & 63];
    while (!url && o % 4)
        out[o++] = '=';
    out[o] = '\0';
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int base64_decode(const char *in, size_t n, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return COLIBRI_EINVAL;
    char *buf = malloc(n / 4 * 3 + 3);
    if (!buf)
        return COLIBRI_ENOMEM;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0) {
            free(buf);
            return COLIBRI_EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}

bool base64_std_canonical(const char *s, size_t n)
{
    size_t pad = 0;
    const char *last;

    if (n % 4)
        return false;
    while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
        pad++;
    for (const char *q = s, *end = s + n - pad; q < end; q++)
        if (!*q || !memchr(std_tab, *q, 64))
            return false;
    if (!pad)
        return true;
    last = memchr(std_tab, s[n - pad - 1], 64);
    return ((last - std_tab) & (pad == 1 ? 3 : 15)) == 0;
}

long base64url_decode_strict(const char *s, size_t n, unsigned char *out)
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *at = s[i] ? memchr(url_tab, s[i], 64) : NULL;
        if (!at)
            return -1;
        acc = (acc << 6 | (unsigned)(at - url_tab)) & 0xffff;
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        return -1;
    return (long)o;
}
