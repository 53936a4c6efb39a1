/* error.c — names for the COLIBRI_E* codes. */
#include "colibri/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *colibri_strerror(int err)
{
    switch (err) {
    case COLIBRI_OK:        return "ok";
    case COLIBRI_EINVAL:    return "invalid input";
    case COLIBRI_ENOMEM:    return "out of memory";
    case COLIBRI_EIO:       return "i/o error";
    case COLIBRI_ENOTFOUND: return "not found";
    case COLIBRI_EUNAVAIL:  return "unavailable";
    case COLIBRI_ETOOBIG:   return "too large";
    case COLIBRI_ETIMEOUT:  return "timed out";
    case COLIBRI_EAUTH:     return "unauthorized";
    case COLIBRI_ELIMIT:    return "rate limited";
    case COLIBRI_ECONFIG:   return "bad configuration";
    case COLIBRI_EMETHOD:   return "method not allowed";
    case COLIBRI_ETOOLONG:  return "request target too long";
    default:                return "unknown error";
    }
}

void colibri_errmsg(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (!buf || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}
