/*
 * fuzz_wkt.c — wkt_canon (src/wkt.c), the GEOGRAPHY reader.
 *
 * Asserted: a refusal is EINVAL, leaves the buffer as it was (a prefix put
 * there first survives byte for byte) and says why in printable text; a
 * success appends printable ASCII that starts with an upper-case kind, has
 * balanced parentheses, and reads back to itself (canonical: idempotent).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"
#include "colibri/strbuf.h"
#include "colibri/wkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct strbuf sb = STRBUF_INIT, again = STRBUF_INIT;
    char why[128] = "";

    strbuf_adds(&sb, "prefix:");
    int rc = wkt_canon((const char *)data, size, &sb, why, sizeof why);
    if (rc) {
        assert(rc == COLIBRI_EINVAL && sb.len == 7 && !strcmp(sb.buf, "prefix:"));
        assert(why[0]);
        for (const char *p = why; *p; p++)
            assert(*p >= 0x20 && *p < 0x7f);
        strbuf_release(&sb);
        return 0;
    }
    const char *w = sb.buf + 7;
    size_t n = sb.len - 7;
    int depth = 0;
    assert(n > 0 && w[0] >= 'A' && w[0] <= 'Z');
    for (size_t i = 0; i < n; i++) {
        assert(w[i] >= 0x20 && w[i] < 0x7f);
        depth += w[i] == '(';
        depth -= w[i] == ')';
        assert(depth >= 0);
    }
    assert(depth == 0);
    assert(wkt_canon(w, n, &again, NULL, 0) == 0);
    assert(again.len == n && !memcmp(again.buf, w, n));
    strbuf_release(&again);
    strbuf_release(&sb);
    return 0;
}
