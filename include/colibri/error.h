/*
 * error.h — the one error vocabulary of colibri.
 *
 * Every fallible function returns int: 0 on success or one of the negative
 * COLIBRI_E* codes below. src/http/server.c is the only place that turns a
 * code into an HTTP status.
 */
#ifndef COLIBRI_ERROR_H
#define COLIBRI_ERROR_H

#include <stddef.h>

enum colibri_err {
    COLIBRI_OK = 0,
    COLIBRI_EINVAL = -1,      /* bad input from outside: 400 */
    COLIBRI_ENOMEM = -2,      /* allocation failed: 500 */
    COLIBRI_EIO = -3,         /* store or file I/O failed: 500 */
    COLIBRI_ENOTFOUND = -4,   /* no such row, route or file: 404 */
    COLIBRI_EUNAVAIL = -5,    /* dependency down, retry later: 503 */
    COLIBRI_ETOOBIG = -6,     /* request or message too large: 413 */
    COLIBRI_ETIMEOUT = -7,    /* deadline passed: 503 */
    COLIBRI_EAUTH = -8,       /* missing or bad credentials: 401 */
    COLIBRI_ELIMIT = -9,      /* rate limited: 429 */
    COLIBRI_ECONFIG = -10,    /* bad configuration: exit at start */
    COLIBRI_EMETHOD = -11,    /* method not allowed on this route: 405 */
    COLIBRI_ETOOLONG = -12,   /* request target too long: 414 */
};

/* A static, human-readable name for err; never NULL. */
const char *colibri_strerror(int err);

/* printf into a caller's reason buffer of len bytes; does nothing when buf is NULL or len 0. */
void colibri_errmsg(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
