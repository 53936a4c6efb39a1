/*
 * curl.c — the libcurl plumbing that Google API clients share (gcp/auth.c
 * fetches tokens, gcp/rest.c calls APIs): global init once, and a write
 * callback that collects a response body up to a cap.
 */
#include <curl/curl.h>
#include <pthread.h>

#include "colibri/error.h"
#include "colibri/strbuf.h"
#include "gcp/gcp_int.h"

#define MAX_RESPONSE (64L * 1024 * 1024)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : COLIBRI_ENOMEM;
}

int gcp_curl_init(void)
{
    pthread_once(&curl_once, curl_init_once);
    return curl_init_rc;
}

size_t gcp_write_cb(char *p, size_t size, size_t n, void *ud)
{
    struct strbuf *sb = ud;
    if (sb->len + size * n > (size_t)MAX_RESPONSE)
        return 0;
    strbuf_add(sb, p, size * n);
    return sb->failed ? 0 : size * n;
}
