/*
 * jsonread.h — the JSON reader under schema_coerce (private to src/).
 *
 * A pull reader over one message: tokens, keys and skipped values, checked
 * exactly as strictly as json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)
 * (see jsonread.c). It decodes strings into a buffer its caller owns and
 * keeps, per object, the keys seen so that a duplicate is refused.
 */
#ifndef COLIBRI_JSONREAD_H
#define COLIBRI_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 2048
#define KEYS_INLINE 64          /* keyset slots before it needs the heap */

struct jstr {                   /* a validated string token: the bytes between its quotes */
    const char *raw;
    size_t n;
    bool esc;                   /* has escapes: decode before use */
};

enum jtype { J_STRING, J_INT, J_REAL, J_TRUE, J_FALSE, J_NULL, J_OBJECT, J_ARRAY };

struct jtoken {
    enum jtype type;
    struct jstr s;
    int64_t i;
    double f;
};

struct key {                    /* an object key seen, for duplicate detection */
    const char *p;              /* NULL: free slot */
    size_t n;
    uint64_t h;
    size_t obj;                 /* which object: 0 the message, then in order of appearance */
};

struct keyset {
    struct key *slots;          /* NULL until the first key that is not a column */
    size_t mask, count;
    struct key *inline_slots;   /* KEYS_INLINE slots on the caller's stack */
};

struct jreader {
    const unsigned char *start, *p, *end;
    const char *err;            /* the first syntax error, if any */
    size_t errpos;
    bool oom;
    char *buf;                  /* the row's buffer */
    size_t used, back;          /* front bytes committed; start of the keys at the back */
    uint64_t seed;
    size_t objects;             /* objects opened so far */
    struct keyset keys;
};

/* Record the first syntax error (what, at byte at); returns COLIBRI_EINVAL. */
int jr_syntax(struct jreader *r, const unsigned char *at, const char *what);

/* A 64-bit finaliser, and the hash of key k (n bytes) under seed. */
uint64_t jr_mix64(uint64_t h);
uint64_t jr_hash(const char *k, size_t n, uint64_t seed);

/* Skip blanks (space, tab, CR, LF) at r->p. */
void jr_skip_ws(struct jreader *r);

/*
 * The key of an object, r->p at its opening quote: checked, decoded when it
 * has escapes (into the free middle of r->buf), hashed; r->p is left past the
 * ':' and blanks. *kp stays valid until the next string is decoded.
 */
int jr_key(struct jreader *r, struct jstr *k, const char **kp, size_t *kn, uint64_t *h);

/* Key k (decoded kp, kn, hash h) of object obj, not a column: remember it; a duplicate is a syntax error at at. */
int jr_remember_key(struct jreader *r, size_t obj, const struct jstr *k, const char *kp,
                    size_t kn, uint64_t h, const unsigned char *at);

/* One value at r->p of the given depth into t; containers are checked and skipped (t says which). */
int jr_token(struct jreader *r, struct jtoken *t, size_t depth);

/* Check and skip one value at r->p of the given depth (1: the message itself). */
int jr_skip(struct jreader *r, size_t depth);

/* Decode a string jr_token accepted into dst (room for s->n bytes); returns its length. */
size_t jr_decode(const struct jstr *s, char *dst);

#endif
