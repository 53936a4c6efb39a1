/*
 * reply.c — what a route fills in when it fails: the error's code and
 * message, which server.c (the one place that knows statuses) renders as
 * the JSON error envelope.
 */
#include <stdarg.h>
#include <stdio.h>

#include "http/http_int.h"

int reply_fail(struct reply *rep, int code, const char *err_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->err_msg, sizeof rep->err_msg, fmt, ap);
    va_end(ap);
    rep->err_code = err_code;
    return code;
}
