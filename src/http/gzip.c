/*
 * gzip.c — Content-Encoding: gzip for response bodies (zlib).
 *
 * Each HTTP thread keeps one deflate stream and resets it per body: a
 * deflateInit allocates some 270 KB of state, which per request would cost
 * more than compressing a page. The stream is freed when its thread ends.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "colibri/error.h"
#include "http/http_int.h"

static pthread_key_t z_key;
static pthread_once_t z_once = PTHREAD_ONCE_INIT;

static void z_free(void *p)
{
    deflateEnd(p);
    free(p);
}

static void z_key_create(void)
{
    (void)pthread_key_create(&z_key, z_free);
}

/* This thread's stream, ready for a new body; NULL if out of memory. */
static z_stream *z_stream_get(void)
{
    pthread_once(&z_once, z_key_create);
    z_stream *z = pthread_getspecific(z_key);
    if (z)
        return deflateReset(z) == Z_OK ? z : NULL;
    if (!(z = calloc(1, sizeof *z)))
        return NULL;
    /* 15 + 16: a gzip wrapper; memLevel 8 and the default strategy, as gzip(1) */
    if (deflateInit2(z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return NULL;
    }
    if (pthread_setspecific(z_key, z) != 0) {
        z_free(z);
        return NULL;
    }
    return z;
}

bool gzip_accepted(const char *accept_encoding)
{
    bool gzip = false, star = false, gzip_named = false;
    for (const char *p = accept_encoding; p && *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,;");
        const char *tok = p;
        p += n;
        double q = 1.0;
        /* parameters: only q matters; q=0 means "not this one" */
        /* cppcheck-suppress nullPointerRedundantCheck ; p is NULL only without a header (the loop test); here it walks the string */
        while (*p && *p != ',') {
            p += strspn(p, " \t;");
            if ((*p == 'q' || *p == 'Q') && p[1] == '=') {
                q = strtod(p + 2, NULL);
            }
            p += strcspn(p, ",;");
        }
        if ((n == 4 && strncasecmp(tok, "gzip", 4) == 0) || (n == 6 && strncasecmp(tok, "x-gzip", 6) == 0)) {
            gzip_named = true;
            gzip = q > 0;
        } else if (n == 1 && *tok == '*') {
            star = q > 0;
        }
    }
    return gzip || (!gzip_named && star);
}

int gzip_body(const char *in, size_t n, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    z_stream *z = z_stream_get();
    if (!z)
        return COLIBRI_ENOMEM;
    size_t cap = deflateBound(z, (uLong)n);
    char *buf = malloc(cap);
    if (!buf)
        return COLIBRI_ENOMEM;
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)n;
    z->next_out = (Bytef *)buf;
    z->avail_out = (uInt)cap;
    if (deflate(z, Z_FINISH) != Z_STREAM_END) {
        free(buf);
        return COLIBRI_EIO;
    }
    *out = buf;
    *outlen = cap - z->avail_out;
    return 0;
}
