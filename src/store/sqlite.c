/*
 * sqlite.c — the SQLite store backend.
 *
 * One writer connection (behind a mutex) and one read connection per thread
 * that queries, each with its own cache of prepared statements; WAL lets
 * them run side by side. The table and its indexes come from the schema:
 * TIMESTAMP as INTEGER microseconds, DATE as TEXT 'YYYY-MM-DD', BOOL as
 * INTEGER 0/1. Inserts are idempotent on _id, and a batch's rows, dead
 * letters and source positions commit in one transaction.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/log.h"
#include "colibri/strbuf.h"
#include "colibri/thread.h"
#include "store/sql.h"
#include "store/sqlite_int.h"
#include "store/sqlite_batch.h"
#include "store/store_int.h"

#define STMT_CACHE 32
#define BUSY_TIMEOUT_MS 5000
#define PING_WAIT_MS 500
#define WAL_CHECKPOINT_PAGES 32768     /* 128 MiB of 4 KiB pages: the WAL is reset */
#define WAL_COPY_PAGES 8192            /* 32 MiB: the checkpointer starts copying */
#define CHECKPOINT_WAIT_MS 200
#define RESET_RETRY_MS 1000

struct stmt_cache {
    char *sql[STMT_CACHE];
    sqlite3_stmt *stmt[STMT_CACHE];
    unsigned next;          /* round-robin victim */
};

struct reader {
    sqlite3 *db;
    struct stmt_cache cache;
    struct reader *next;
};

/* The one connection that writes, with its insert statements. */
struct writer {
    pthread_mutex_t lock;
    sqlite3 *db;
    sqlite3_stmt *ins_rows, *ins_dead, *ins_pos;   /* ins_rows: a whole batch's rows */
    struct stmt_cache cache;
};

struct sqlite_store {
    const struct schema *schema;
    char *path;
    bool memory;            /* ":memory:": readers share the writer */
    uint64_t id;            /* tells thread-local readers apart across stores */
    struct writer writer;   /* its lock also serialises every read of a :memory: store */
    pthread_mutex_t rlock;  /* the readers list */
    struct reader *readers;
    struct helper ckpt;     /* the checkpointer (started for file stores only); its lock guards ckpt_* */
    bool ckpt_due;          /* a commit asked for a copy */
    bool ckpt_copying;      /* the checkpointer is copying */
    bool ckpt_resetting;    /* the writer is resetting the WAL: no copy meanwhile */
    int64_t next_reset;     /* µs, monotonic: no reset attempt before */
};

static atomic_uint_fast64_t next_store_id = 1;
/* cppcheck-suppress unusedStructMember ; both members are read and written through tl_reader (reader_for) */
static _Thread_local struct { uint64_t store_id; struct reader *r; } tl_reader;
static _Thread_local int64_t tl_deadline_us;   /* 0 = no limit on this thread's query */

/* SQLite calls this every few thousand VM steps; non-zero interrupts the query. */
static int past_deadline(void *unused)
{
    return tl_deadline_us && clock_mono_us() > tl_deadline_us;
}

static int open_conn(const struct sqlite_store *s, bool readonly, sqlite3 **out)
{
    int flags = SQLITE_OPEN_NOMUTEX | (readonly ? SQLITE_OPEN_READONLY
                                                : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(s->path, out, flags, NULL);
    if (rc != SQLITE_OK) {
        int err = sqlite_map_err(*out, rc, s->path);
        sqlite3_close(*out);
        *out = NULL;
        return err;
    }
    sqlite3_busy_timeout(*out, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(*out, 1);
    sqlite3_progress_handler(*out, 4000, past_deadline, NULL);
    return sqlite_register_types(*out);
}

/* Prepared statement for sql from cache c (owned by the cache). */
static int cached_stmt(sqlite3 *db, struct stmt_cache *c, const char *sql, sqlite3_stmt **out)
{
    for (unsigned i = 0; i < STMT_CACHE; i++) {
        if (c->sql[i] && strcmp(c->sql[i], sql) == 0) {
            *out = c->stmt[i];
            return 0;
        }
    }
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlite_map_err(db, rc, "prepare");
    char *copy = strdup(sql);
    if (!copy) {
        sqlite3_finalize(st);
        return COLIBRI_ENOMEM;
    }
    unsigned v = c->next++ % STMT_CACHE;
    sqlite3_finalize(c->stmt[v]);
    free(c->sql[v]);
    c->sql[v] = copy;
    c->stmt[v] = st;
    *out = st;
    return 0;
}

static void cache_clear(struct stmt_cache *c)
{
    for (unsigned i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(c->stmt[i]);
        free(c->sql[i]);
    }
    memset(c, 0, sizeof *c);
}

/* The writer's insert statements, for schema sc. */
static int writer_prepare(struct writer *w, const struct schema *sc)
{
    struct strbuf sb = STRBUF_INIT;
    int rc;

    sqlite_add_table(&sb, "INSERT INTO ", sc, false);
    strbuf_adds(&sb, ") SELECT ");
    sqlite_add_columns(&sb, sc, NULL, sc->ncols, false);
    /* "WHERE true": without it, ON would parse as a join constraint */
    strbuf_adds(&sb, " FROM " SQLITE_BATCH_TABLE "(?) WHERE true ON CONFLICT(\"_id\") DO NOTHING");
    if (sb.failed) {
        rc = COLIBRI_ENOMEM;
        goto out;
    }
    rc = sqlite_batch_register(w->db, sc);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(w->db, sb.buf, -1, SQLITE_PREPARE_PERSISTENT, &w->ins_rows, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(w->db,
            "INSERT INTO _dead_letters (id, source, reason, payload, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO NOTHING", -1, SQLITE_PREPARE_PERSISTENT, &w->ins_dead, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(w->db,
            "INSERT INTO _positions (key, next, witness) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET next = excluded.next, witness = excluded.witness"
            " WHERE excluded.next > next",
            -1, SQLITE_PREPARE_PERSISTENT, &w->ins_pos, NULL);
    rc = rc == SQLITE_OK ? 0 : sqlite_map_err(w->db, rc, "prepare insert");
out:
    strbuf_release(&sb);
    return rc;
}

/*
 * Keeping the WAL bounded without making ingestion wait for it. SQLite's own
 * autocheckpoint is PASSIVE only, which never resets the WAL while readers
 * keep arriving, so under steady reads the file would grow without end.
 * Past WAL_COPY_PAGES, each commit wakes the checkpointer, which copies the
 * WAL back into the database file (PASSIVE) on its own connection and
 * thread, next to the writer and the readers. Past WAL_CHECKPOINT_PAGES, the
 * writer resets the file after a commit (TRUNCATE) once the checkpointer is
 * idle (no new copy starts meanwhile): by then nearly every frame has been
 * copied, so that is short. It
 * waits up to CHECKPOINT_WAIT_MS for the readers in flight (ours take
 * milliseconds); after a failure the writer tries again RESET_RETRY_MS later.
 */
static int wal_grew(void *ctx, sqlite3 *db, const char *name, int pages)
{
    struct sqlite_store *s = ctx;
    if (pages < WAL_COPY_PAGES)
        return SQLITE_OK;
    pthread_mutex_lock(&s->ckpt.lock);
    bool want_reset = pages >= WAL_CHECKPOINT_PAGES && clock_mono_us() >= s->next_reset;
    bool reset = want_reset && !s->ckpt_copying;
    s->ckpt_resetting = reset;
    s->ckpt_due = !want_reset;  /* no new copy while a reset waits: the next commit finds it idle */
    pthread_cond_signal(&s->ckpt.cond);
    pthread_mutex_unlock(&s->ckpt.lock);
    if (reset) {
        sqlite3_busy_timeout(db, CHECKPOINT_WAIT_MS);
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
        pthread_mutex_lock(&s->ckpt.lock);
        s->next_reset = rc == SQLITE_OK ? 0 : clock_mono_us() + RESET_RETRY_MS * 1000;
        s->ckpt_resetting = false;
        pthread_mutex_unlock(&s->ckpt.lock);
    }
    return SQLITE_OK;
}

static void *checkpointer(void *arg)
{
    struct sqlite_store *s = arg;
    sqlite3 *db = NULL;
    int last = SQLITE_OK;
    pthread_setname_np(pthread_self(), "sqlite-ckpt");     /* for top -H and perf */
    /* a connection only knows the file is in WAL mode once it has read it */
    if (open_conn(s, false, &db) || sqlite_exec(db, "SELECT count(*) FROM sqlite_schema")) {
        log_error("sqlite %s: no checkpointer connection; the writer alone keeps the WAL bounded", s->path);
        sqlite3_close(db);
        return NULL;
    }
    pthread_mutex_lock(&s->ckpt.lock);
    for (;;) {
        while ((!s->ckpt_due || s->ckpt_resetting) && !s->ckpt.stop)
            pthread_cond_wait(&s->ckpt.cond, &s->ckpt.lock);
        if (s->ckpt.stop)
            break;
        s->ckpt_due = false;
        s->ckpt_copying = true;
        pthread_mutex_unlock(&s->ckpt.lock);
        int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != last)
            log_msg(rc == SQLITE_OK ? LOG_INFO : LOG_WARN, __func__, "sqlite %s: background checkpoint: %s",
                    s->path, rc == SQLITE_OK ? "working again" : sqlite3_errmsg(db));
        last = rc;
        pthread_mutex_lock(&s->ckpt.lock);
        s->ckpt_copying = false;
    }
    pthread_mutex_unlock(&s->ckpt.lock);
    sqlite3_close(db);
    return NULL;
}

static void sqlite_close(void *ctx);

static int sqlite_open(const struct config *cfg, const char *target, const struct schema *sc, void **ctx)
{
    *ctx = NULL;
    if (!*target) {
        log_error("sqlite store needs a path: sqlite:PATH (or sqlite::memory:)");
        return COLIBRI_ECONFIG;
    }
    /* before SQLite initialises (its first open): no statistics, so no global mutex on every malloc */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    struct sqlite_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(target))) {
        free(s);
        return COLIBRI_ENOMEM;
    }
    s->schema = sc;
    s->memory = strcmp(target, ":memory:") == 0;
    s->id = atomic_fetch_add(&next_store_id, 1);
    pthread_mutex_init(&s->writer.lock, NULL);
    pthread_mutex_init(&s->rlock, NULL);
    helper_init(&s->ckpt);
    int rc = open_conn(s, false, &s->writer.db);
    if (!rc && !s->memory)
        rc = sqlite_exec(s->writer.db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;");
    if (!rc && !s->memory)
        sqlite3_wal_hook(s->writer.db, wal_grew, s);
    if (!rc && !s->memory)
        rc = helper_start(&s->ckpt, checkpointer, s);
    if (!rc)
        rc = sqlite_create_tables(s->writer.db, s->schema, s->path);
    if (!rc)
        rc = writer_prepare(&s->writer, s->schema);
    if (rc) {
        log_error("cannot open the SQLite store at %s", target);
        sqlite_close(s);
        return rc;
    }
    *ctx = s;
    return 0;
}

static void writer_close(struct writer *w)
{
    cache_clear(&w->cache);
    sqlite3_finalize(w->ins_rows);
    sqlite3_finalize(w->ins_dead);
    sqlite3_finalize(w->ins_pos);
    sqlite3_close(w->db);
    pthread_mutex_destroy(&w->lock);
}

static void sqlite_close(void *ctx)
{
    struct sqlite_store *s = ctx;
    if (!s)
        return;
    helper_release(&s->ckpt);
    for (struct reader *r = s->readers, *next; r; r = next) {
        next = r->next;
        cache_clear(&r->cache);
        sqlite3_close(r->db);
        free(r);
    }
    writer_close(&s->writer);
    pthread_mutex_destroy(&s->rlock);
    free(s->path);
    free(s);
}

/*
 * Read column i of st (of type t) into v; strings borrow the statement's memory.
 * One sqlite3_column_value per cell, then the value accessors: each
 * sqlite3_column_* call checks for an allocation failure on the way out, so
 * three of them per cell (type, text, bytes) cost three times that.
 */
static void column_value(sqlite3_stmt *st, int i, enum col_type t, struct value *v)
{
    sqlite3_value *sv = sqlite3_column_value(st, i);
    memset(v, 0, sizeof *v);
    if (sqlite3_value_type(sv) == SQLITE_NULL) {
        v->is_null = true;
        return;
    }
    switch (t) {
    case COL_STRING: case COL_NUMERIC: case COL_BIGNUMERIC: case COL_BYTES: case COL_JSON:
    case COL_GEOGRAPHY: case COL_RECORD: case COL_ARRAY:
        v->u.s.p = (const char *)sqlite3_value_text(sv);
        v->u.s.n = (size_t)sqlite3_value_bytes(sv);
        break;
    case COL_INT64: case COL_TIMESTAMP: case COL_DATETIME: case COL_TIME:
        v->u.i = sqlite3_value_int64(sv);
        break;
    case COL_BOOL:
        v->u.b = sqlite3_value_int(sv) != 0;
        break;
    case COL_FLOAT64:
        v->u.f = sqlite3_value_double(sv);
        break;
    case COL_DATE:
        if (date_parse((const char *)sqlite3_value_text(sv),
                       (size_t)sqlite3_value_bytes(sv), &v->u.i))
            v->is_null = true;   /* not written by colibri; show as null */
        break;
    }
}

static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sqlite_map_err(db, rc, what);
}

static int insert_locked(struct writer *w, const struct batch *b, struct insert_result *out)
{
    int rc;
    if (b->nrows) {
        sqlite_batch_bind(w->ins_rows, 1, b);
        if ((rc = step_done(w->db, w->ins_rows, "insert rows")))
            return rc;
        out->stored = (size_t)sqlite3_changes(w->db);
        out->duplicates = b->nrows - out->stored;
    }
    for (size_t d = 0; d < b->ndead; d++) {
        const struct dead_letter *dl = &b->dead[d];
        sqlite3_bind_text(w->ins_dead, 1, dl->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(w->ins_dead, 2, dl->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(w->ins_dead, 3, dl->reason, -1, SQLITE_STATIC);
        /* text, so the sqlite3 shell shows it; bytes that are not UTF-8 survive all the same */
        sqlite3_bind_text(w->ins_dead, 4, dl->payload, (int)dl->payload_len, SQLITE_STATIC);
        sqlite3_bind_int64(w->ins_dead, 5, dl->at_us);
        if ((rc = step_done(w->db, w->ins_dead, "insert dead letter")))
            return rc;
        out->dead += (size_t)sqlite3_changes(w->db);
    }
    for (size_t p = 0; p < b->npos; p++) {
        sqlite3_bind_text(w->ins_pos, 1, b->pos[p].key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(w->ins_pos, 2, b->pos[p].next);
        sqlite3_bind_int64(w->ins_pos, 3, b->pos[p].witness);
        if ((rc = step_done(w->db, w->ins_pos, "store position")))
            return rc;
    }
    return 0;
}

static int sqlite_insert(void *ctx, const struct batch *b, struct insert_result *out)
{
    struct sqlite_store *s = ctx;
    struct writer *w = &s->writer;
    pthread_mutex_lock(&w->lock);
    int rc = sqlite_exec(w->db, "BEGIN IMMEDIATE");
    if (!rc) {
        rc = insert_locked(w, b, out);
        if (!rc)
            rc = sqlite_exec(w->db, "COMMIT");
        if (rc) {
            sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
            memset(out, 0, sizeof *out);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/*
 * The read connection of this thread: opened on first use and kept until
 * the store closes. For :memory: there is only the writer, locked until
 * reader_put.
 */
static int reader_get(struct sqlite_store *s, sqlite3 **db, struct stmt_cache **cache)
{
    if (s->memory) {
        pthread_mutex_lock(&s->writer.lock);
        *db = s->writer.db;
        *cache = &s->writer.cache;
        return 0;
    }
    if (tl_reader.store_id != s->id) {
        struct reader *r = calloc(1, sizeof *r);
        if (!r)
            return COLIBRI_ENOMEM;
        int rc = open_conn(s, true, &r->db);
        if (rc) {
            free(r);
            return rc;
        }
        pthread_mutex_lock(&s->rlock);
        r->next = s->readers;
        s->readers = r;
        pthread_mutex_unlock(&s->rlock);
        tl_reader.store_id = s->id;
        tl_reader.r = r;
    }
    *db = tl_reader.r->db;
    *cache = &tl_reader.r->cache;
    return 0;
}

static void reader_put(struct sqlite_store *s)
{
    if (s->memory)
        pthread_mutex_unlock(&s->writer.lock);
}

/*
 * Reading. Every SELECT walks an index in (event time, _id) order and stops
 * after limit + 1 rows, so that what it costs follows the limit, not the
 * size of the table:
 *  - the event-time index, checking the filters row by row, or the index
 *    (column, event time) of an x-cluster column that an equality (or IS
 *    NULL) pins to one value;
 *  - an `in` on an x-cluster column: one such index walk per distinct value,
 *    each limited, merged with UNION ALL ... ORDER BY ... LIMIT (a plain IN
 *    has SQLite sort every matching row);
 *  - a prefix or range on an x-cluster column, with no equality or `in` on
 *    one: the distinct values it admits are read first with one index seek
 *    each (at most QUERY_MAX_IN; more, and the event-time walk serves it),
 *    then walked as for `in`, in the same read transaction.
 * Filters that must not choose the index (ranges, prefixes, `ne`, IS NOT
 * NULL, `in` on an x-cluster column) are written with a unary +: SQLite would
 * otherwise read a range of their index and sort all of it. A filter on a
 * column without an index can only be checked row by row; it costs about
 * limit / (share of the rows it matches).
 */
static const struct sql_dialect sqlite_sql;

/* The parameters of a statement as sql.c writes it, bound in the same order. */
struct binds {
    struct bind {
        enum col_type t;
        struct value v;
        enum sql_param_kind kind;
    } *b;
    size_t n, cap;
};

/* sql_writer.param: SQLite has no arrays, so sql.c asks for one value at a time. */
static int keep_param(void *ud, struct strbuf *out, enum col_type t, const struct value *vals,
                      size_t n, enum sql_param_kind kind)
{
    struct binds *bs = ud;
    if (bs->n == bs->cap) {
        size_t cap = bs->cap ? 2 * bs->cap : 16;
        struct bind *b = realloc(bs->b, cap * sizeof *b);
        if (!b)
            return COLIBRI_ENOMEM;
        bs->b = b;
        bs->cap = cap;
    }
    bs->b[bs->n++] = (struct bind){ .t = t, .v = vals[0], .kind = kind };
    strbuf_addc(out, '?');
    return 0;
}

static void bind_all(sqlite3_stmt *st, const void *arg)
{
    const struct binds *bs = arg;
    for (size_t i = 0; i < bs->n; i++) {
        const struct bind *b = &bs->b[i];
        size_t n = b->kind == SQL_PARAM_PREFIX_END ? sql_prefix_bound_len(&b->v) : 0;
        if (!n) {
            sqlite_bind_param(st, (int)i + 1, b->t, &b->v, b->kind);
            continue;
        }
        /* the smallest string above every string with this prefix */
        char *bound = malloc(n);
        if (bound) {
            memcpy(bound, b->v.u.s.p, n);
            bound[n - 1] = (char)((unsigned char)bound[n - 1] + 1);
        }
        sqlite3_bind_text(st, (int)i + 1, bound, (int)n, free);
    }
}

struct plan {
    bool split;                 /* one index walk per value of column col */
    size_t col;
    const struct value **vals;  /* col's distinct values; none: no row can match */
    size_t nvals;
    struct value *found;        /* values read from col's index, their strings in buf */
    char *buf;
    bool txn;                   /* a read transaction is open */
};

static void plan_release(struct plan *p)
{
    free(p->vals);
    free(p->found);
    free(p->buf);
}

/* Whether SQLite may use f to choose its index (see above). */
static bool may_choose_index(const struct schema *sc, const struct filter *f)
{
    if (f->col == sc->event_time || f->op == OP_EQ)
        return true;
    if (f->op == OP_ISNULL)
        return f->vals[0].u.b;
    return f->op == OP_IN && !sc->cols[f->col].cluster;
}

/* Parameters of one WHERE of q at most (split or not). */
static size_t where_params(const struct query *q)
{
    size_t n = 5;           /* since, until, the split value, the cursor's two */
    for (size_t k = 0; k < q->nfilters; k++)
        n += q->filters[k].nvals + 1;
    return n;
}

/* Split on col, one walk per distinct value of vals[0..n). */
static int plan_split(struct plan *p, const struct schema *sc, size_t col,
                      const struct value *vals, size_t n)
{
    if (!(p->vals = malloc((n ? n : 1) * sizeof *p->vals)))
        return COLIBRI_ENOMEM;
    p->split = true;
    p->col = col;
    for (size_t k = 0; k < n; k++) {
        size_t j = 0;
        while (j < p->nvals && !value_equal(sc->cols[col].type, p->vals[j], &vals[k]))
            j++;
        if (j == p->nvals)
            p->vals[p->nvals++] = &vals[k];
    }
    return 0;
}

/*
 * The distinct values of col that q's filters on col admit, from col's
 * index: a recursive CTE, each step the smallest value above the last.
 * Fewer than QUERY_MAX_IN + 1: split on them.
 */
static int find_values(sqlite3 *db, struct stmt_cache *cache, const struct schema *sc,
                       const struct query *q, size_t col, struct plan *p)
{
    const struct column *c = &sc->cols[col];
    struct strbuf sql = STRBUF_INIT, bytes = STRBUF_INIT;
    struct binds bs = { 0 };
    struct sql_writer w = { .d = &sqlite_sql, .sc = sc, .sb = &sql, .param = keep_param, .ud = &bs };
    struct value max = { .u.i = QUERY_MAX_IN + 1 };
    struct value *found = calloc(QUERY_MAX_IN + 1, sizeof *found);
    size_t off[QUERY_MAX_IN + 1], n = 0;
    sqlite3_stmt *st;
    int rc = found ? 0 : COLIBRI_ENOMEM, step = SQLITE_DONE;

    strbuf_adds(&sql, "WITH RECURSIVE v(x) AS (");
    for (int next = 0; next < 2; next++) {
        strbuf_adds(&sql, next ? " UNION ALL SELECT (SELECT min(" : "SELECT (SELECT min(");
        sql_ident(&sql, '\"', c->name);
        strbuf_adds(&sql, ") FROM ");
        sql_ident(&sql, '\"', sc->table);
        strbuf_adds(&sql, " WHERE ");
        if (next)
            sql_ident(&sql, '\"', c->name);
        strbuf_adds(&sql, next ? " > x" : "1");
        for (size_t k = 0; k < q->nfilters; k++)
            if (q->filters[k].col == col)
                sql_filter(&w, &q->filters[k], false);
        strbuf_adds(&sql, next ? ") FROM v WHERE x IS NOT NULL)" : ")");
    }
    strbuf_adds(&sql, " SELECT x FROM v WHERE x IS NOT NULL LIMIT ");
    keep_param(&bs, &sql, COL_INT64, &max, 1, SQL_PARAM_ONE);
    if (!rc && (sql.failed || w.rc || bs.n == 0))
        rc = COLIBRI_ENOMEM;
    if (!rc)
        rc = cached_stmt(db, cache, sql.buf, &st);
    if (rc)
        goto out;
    bind_all(st, &bs);
    while (n <= QUERY_MAX_IN && (step = sqlite3_step(st)) == SQLITE_ROW) {
        column_value(st, 0, c->type, &found[n]);
        off[n] = bytes.len;
        if (col_type_is_text(c->type))
            strbuf_add(&bytes, found[n].u.s.p, found[n].u.s.n);
        n++;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = sqlite_map_err(db, step, "find values");
    else if (bytes.failed)
        rc = COLIBRI_ENOMEM;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc || n > QUERY_MAX_IN)
        goto out;
    for (size_t k = 0; col_type_is_text(c->type) && k < n; k++)
        found[k].u.s.p = bytes.buf + off[k];
    rc = plan_split(p, sc, col, found, n);
    if (!rc) {
        p->found = found;
        p->buf = strbuf_detach(&bytes, NULL);
        found = NULL;
    }
out:
    free(bs.b);
    strbuf_release(&sql);
    strbuf_release(&bytes);
    free(found);
    return rc;
}

/* How to walk q (see "Reading" above); may open a read transaction. */
static int plan_query(sqlite3 *db, struct stmt_cache *cache, const struct schema *sc,
                      const struct query *q, struct plan *p)
{
    const struct filter *in = NULL, *range = NULL;
    for (size_t k = 0; k < q->nfilters; k++) {
        const struct filter *f = &q->filters[k];
        if (!sc->cols[f->col].cluster || f->col == sc->event_time)
            continue;
        if (may_choose_index(sc, f))
            return 0;       /* an equality: that value's index is already in order */
        if (f->op == OP_IN && !in)
            in = f;
        else if (f->op != OP_NE && f->op != OP_ISNULL && !range)
            range = f;
    }
    int rc = 0;
    if (in) {
        rc = plan_split(p, sc, in->col, in->vals, in->nvals);
    } else if (range) {
        /* one snapshot for the values found and the rows read */
        p->txn = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
        rc = find_values(db, cache, sc, q, range->col, p);
    }
    /* too many parameters for one statement: the plain walk */
    if (p->split && p->nvals * where_params(q)
                    >= (size_t)sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1))
        p->split = false;
    return rc;
}

/* Step st to the end, handing each row to sink. */
static int emit_rows(sqlite3 *db, sqlite3_stmt *st, const struct schema *sc,
                     const size_t *cols, size_t ncols, struct row_sink *sink, bool *any)
{
    struct value *vals = malloc(ncols * sizeof *vals);
    int rc = vals ? 0 : COLIBRI_ENOMEM, step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        for (size_t i = 0; i < ncols; i++)
            column_value(st, (int)i, sc->cols[cols[i]].type, &vals[i]);
        *any = true;
        rc = sink->row(sink->ud, cols, ncols, vals);
    }
    if (!rc && step != SQLITE_DONE)
        rc = sqlite_map_err(db, step, "query");
    free(vals);
    return rc;
}

/* Run sql with bind(arg) on connection db and emit the rows. */
static int run_select(sqlite3 *db, struct stmt_cache *cache, const struct schema *sc,
                      const char *sql, void (*bind)(sqlite3_stmt *, const void *),
                      const void *arg, const size_t *cols, size_t ncols,
                      struct row_sink *sink, bool *any)
{
    sqlite3_stmt *st;
    int rc = cached_stmt(db, cache, sql, &st);
    if (!rc) {
        bind(st, arg);
        rc = emit_rows(db, st, sc, cols, ncols, sink, any);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    return rc;
}

static bool may_choose_index(const struct schema *sc, const struct filter *f);

static const struct sql_dialect sqlite_sql = {
    .quote = '"', .true_lit = "1", .row_values = true, .limit_param = true,
    .json_paths = true, .dec_key = "colibri_deckey", .may_choose_index = may_choose_index,
};

static int sqlite_query(void *ctx, const struct query *q, struct row_sink *sink)
{
    struct sqlite_store *s = ctx;
    struct strbuf sql = STRBUF_INIT, from = STRBUF_INIT;
    struct binds bs = { 0 };
    struct sql_writer w = { .d = &sqlite_sql, .sc = s->schema, .sb = &sql, .param = keep_param, .ud = &bs };
    struct plan p = { 0 };
    struct stmt_cache *cache;
    sqlite3 *db = NULL;
    size_t *cols = NULL, ncols = 0;
    bool any = false;

    tl_deadline_us = q->timeout_ms ? clock_mono_us() + q->timeout_ms * 1000 : 0;
    int rc = reader_get(s, &db, &cache);
    if (!rc)
        rc = plan_query(db, cache, s->schema, q, &p);
    if (!rc && p.split && !p.nvals)
        goto out;           /* no value of the column passes its filters */
    if (!rc)
        rc = sql_page_columns(s->schema, q, &cols, &ncols);
    if (!rc) {
        struct sql_split split = { .col = p.col, .vals = p.vals, .nvals = p.nvals };
        sql_ident(&from, '\"', s->schema->table);
        rc = from.failed ? COLIBRI_ENOMEM
                         : sql_select_page(&w, from.buf, q, cols, ncols, p.split ? &split : NULL);
    }
    if (!rc)
        rc = run_select(db, cache, s->schema, sql.buf, bind_all, &bs, cols, ncols, sink, &any);
out:
    if (p.txn)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    reader_put(s);
    tl_deadline_us = 0;
    plan_release(&p);
    strbuf_release(&sql);
    strbuf_release(&from);
    free(bs.b);
    free(cols);
    return rc;
}

static void bind_id(sqlite3_stmt *st, const void *arg)
{
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
}

static int sqlite_get(void *ctx, const char *id, struct row_sink *sink)
{
    struct sqlite_store *s = ctx;
    const struct schema *sc = s->schema;
    struct strbuf sql = STRBUF_INIT;
    struct stmt_cache *cache;
    sqlite3 *db;
    size_t *cols = malloc(sc->ncols * sizeof *cols);
    bool any = false;
    int rc = cols ? 0 : COLIBRI_ENOMEM;
    for (size_t i = 0; cols && i < sc->ncols; i++)
        cols[i] = i;
    strbuf_adds(&sql, "SELECT ");
    sqlite_add_columns(&sql, sc, NULL, sc->ncols, false);
    strbuf_adds(&sql, " FROM ");
    sql_ident(&sql, '\"', sc->table);
    strbuf_adds(&sql, " WHERE \"_id\" = ?");
    if (!rc && sql.failed)
        rc = COLIBRI_ENOMEM;
    if (!rc && !(rc = reader_get(s, &db, &cache))) {
        rc = run_select(db, cache, sc, sql.buf, bind_id, id, cols, sc->ncols, sink, &any);
        reader_put(s);
    }
    if (!rc && !any)
        rc = COLIBRI_ENOTFOUND;
    strbuf_release(&sql);
    free(cols);
    return rc;
}

static int sqlite_position(void *ctx, const char *key, int64_t *out_next, int64_t *out_witness)
{
    struct sqlite_store *s = ctx;
    struct writer *w = &s->writer;
    sqlite3_stmt *st;
    pthread_mutex_lock(&w->lock);
    int rc = cached_stmt(w->db, &w->cache, "SELECT next, coalesce(witness, 0) FROM _positions WHERE key = ?", &st);
    if (!rc) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            *out_next = sqlite3_column_int64(st, 0);
            *out_witness = sqlite3_column_int64(st, 1);
        } else {
            rc = step == SQLITE_DONE ? COLIBRI_ENOTFOUND : sqlite_map_err(w->db, step, "position");
        }
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/*
 * Ready means the store can take a write now: take the write lock (waiting
 * at most PING_WAIT_MS for another process's writer) and let it go at once.
 */
static int sqlite_ping(void *ctx)
{
    struct sqlite_store *s = ctx;
    struct writer *w = &s->writer;
    /* a write in progress here answers for itself (the subscriber reports its failures);
       waiting behind it would stall the HTTP worker that asked */
    if (pthread_mutex_trylock(&w->lock) != 0)
        return 0;
    sqlite3_busy_timeout(w->db, PING_WAIT_MS);
    int rc = sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
    else
        log_warn("sqlite %s: not writable: %s", s->path, sqlite3_errmsg(w->db));
    sqlite3_busy_timeout(w->db, BUSY_TIMEOUT_MS);
    pthread_mutex_unlock(&w->lock);
    return rc == SQLITE_OK ? 0 : COLIBRI_EUNAVAIL;
}

/* laid out by hand, one role a line */
/* clang-format off */
const struct store_ops sqlite_store_ops = {
    .name = "sqlite",
    .open = sqlite_open, .ping = sqlite_ping, .close = sqlite_close,
    .insert = sqlite_insert, .position = sqlite_position,
    .query = sqlite_query, .get = sqlite_get,
};
/* clang-format on */
