/*
 * fuzz_common.h — what several harnesses share: the flights schema (as in
 * schema/flights.json, inlined so a harness needs no file) and the check
 * that an error message is printable, valid UTF-8 text.
 */
#ifndef COLIBRI_FUZZ_COMMON_H
#define COLIBRI_FUZZ_COMMON_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static const char flights_json[] __attribute__((unused)) =
    "[{\"name\":\"event_id\",\"type\":\"STRING\",\"mode\":\"REQUIRED\"},"
    "{\"name\":\"event_time\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"},"
    "{\"name\":\"flight_id\",\"type\":\"STRING\",\"mode\":\"REQUIRED\"},"
    "{\"name\":\"flight_date\",\"type\":\"DATE\",\"mode\":\"REQUIRED\"},"
    "{\"name\":\"carrier\",\"type\":\"STRING\",\"mode\":\"REQUIRED\",\"x-cluster\":true},"
    "{\"name\":\"flight_number\",\"type\":\"INT64\",\"mode\":\"REQUIRED\"},"
    "{\"name\":\"origin\",\"type\":\"STRING\",\"mode\":\"REQUIRED\",\"x-cluster\":true},"
    "{\"name\":\"destination\",\"type\":\"STRING\",\"mode\":\"REQUIRED\",\"x-cluster\":true},"
    "{\"name\":\"scheduled_departure\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"},"
    "{\"name\":\"actual_departure\",\"type\":\"TIMESTAMP\",\"mode\":\"NULLABLE\"},"
    "{\"name\":\"status\",\"type\":\"STRING\",\"mode\":\"REQUIRED\",\"x-cluster\":true},"
    "{\"name\":\"delay_minutes\",\"type\":\"INT64\",\"mode\":\"NULLABLE\"},"
    "{\"name\":\"on_time\",\"type\":\"BOOL\",\"mode\":\"NULLABLE\"},"
    "{\"name\":\"aircraft\",\"type\":\"STRING\",\"mode\":\"NULLABLE\"},"
    "{\"name\":\"tail_number\",\"type\":\"STRING\",\"mode\":\"NULLABLE\"},"
    "{\"name\":\"capacity\",\"type\":\"INT64\",\"mode\":\"NULLABLE\"},"
    "{\"name\":\"passengers\",\"type\":\"INT64\",\"mode\":\"NULLABLE\"},"
    "{\"name\":\"distance_km\",\"type\":\"FLOAT64\",\"mode\":\"NULLABLE\"}]";

static inline bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], cp, k;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xc2 && c <= 0xdf) k = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) k = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) k = 3, cp = c & 0x07;
        else return false;
        if (n - i <= k)
            return false;
        for (unsigned j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += k + 1;
    }
    return true;
}

static inline void check_clean(const char *reason)
{
    size_t n = strlen(reason);
    assert(n > 0);
    for (size_t i = 0; i < n; i++)
        assert((unsigned char)reason[i] >= 0x20 && reason[i] != 0x7f);
    assert(utf8_ok((const unsigned char *)reason, n));
}

#endif
