/*
 * main.c — parse the command line, load the configuration, block signals,
 * start and stop the parts in order. The only place that exits.
 *
 *   colibri [serve]        HTTP API (+ subscriber when configured)
 *   colibri load [FILE|-]  import NDJSON through the ingest path
 *   colibri check-config   print the effective configuration, test the store
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "colibri/config.h"
#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/http.h"
#include "colibri/log.h"
#include "colibri/metrics.h"
#include "colibri/query.h"
#include "colibri/schema.h"
#include "colibri/store.h"
#include "colibri/subscriber.h"
#include "colibri/version.h"

#define SHUTDOWN_BUDGET_MS 8000  /* every part stopped, with a margin in Cloud Run's 10 s */
#define SHUTDOWN_HARD_MS 9500    /* the watchdog's last resort */

static void usage(FILE *f)
{
    fprintf(f,
        "colibri %s — ingest a Kafka topic or Pub/Sub subscription into SQLite or BigQuery,\n"
        "and serve it over HTTP.\n\n"
        "usage: colibri [serve] [flags]\n"
        "       colibri load [FILE|-] [flags]   import NDJSON; exit 1 if any line was rejected\n"
        "       colibri check-config [flags]    print the configuration and test the store\n"
        "       colibri --help | --version\n\n"
        "flags (each also an environment variable; flags win, empty means unset):\n",
        COLIBRI_VERSION);
    config_usage(f);
}

/* The parts every command needs: configuration, logger, schema, store. */
struct app {
    struct config cfg;
    struct schema *schema;
    struct store *store;
    char schema_from[PATH_MAX + 32];    /* the file the schema came from, or "built in" */
};

/*
 * COLIBRI_SCHEMA unset: schema/flights.json in the working directory (the
 * source tree), else the copy installed next to the binary (make install:
 * PREFIX/share/colibri/; the build tree: build/../schema/), else the copy
 * built into the binary. Each is the same file unless someone edited it.
 */
static int load_default_schema(struct app *a, char *err, size_t errlen)
{
    char exe[PATH_MAX], path[PATH_MAX + 64];
    const char *cands[3] = { "schema/flights.json", NULL, NULL };
    char share[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(share, sizeof share, "%s/../share/colibri/flights.json", exe);
            snprintf(path, sizeof path, "%s/../schema/flights.json", exe);
            cands[1] = share;
            cands[2] = path;
        }
    }
    for (size_t i = 0; i < 3; i++) {
        if (!cands[i] || access(cands[i], R_OK) != 0)
            continue;
        snprintf(a->schema_from, sizeof a->schema_from, "%s", cands[i]);
        return schema_load(cands[i], a->cfg.event_time, &a->schema, err, errlen);
    }
    snprintf(a->schema_from, sizeof a->schema_from, "built in (schema/flights.json of this build)");
    return schema_parse(schema_builtin, strlen(schema_builtin), "flights", a->cfg.event_time,
                        &a->schema, err, errlen);
}

static int app_open(struct app *a, int argc, char **argv, char **rest, int *nrest)
{
    char err[512];
    enum log_level level;
    memset(a, 0, sizeof *a);
    if (config_load(&a->cfg, argc, argv, rest, nrest, err, sizeof err)) {
        fprintf(stderr, "colibri: configuration: %s\n", err);
        return COLIBRI_ECONFIG;
    }
    log_level_parse(a->cfg.log_level, &level);
    log_setup(level, strcmp(a->cfg.log_format, "json") == 0);
    metrics_enable(strcmp(a->cfg.metrics, "on") == 0);
    if (*a->cfg.schema) {
        snprintf(a->schema_from, sizeof a->schema_from, "%s", a->cfg.schema);
        if (schema_load(a->cfg.schema, a->cfg.event_time, &a->schema, err, sizeof err)) {
            fprintf(stderr, "colibri: schema %s (COLIBRI_SCHEMA): %s\n", a->cfg.schema, err);
            return COLIBRI_ECONFIG;
        }
    } else if (load_default_schema(a, err, sizeof err)) {
        fprintf(stderr, "colibri: default schema, %s: %s (set COLIBRI_SCHEMA)\n", a->schema_from, err);
        return COLIBRI_ECONFIG;
    }
    log_debug("schema: %s", a->schema_from);
    if (store_open(&a->cfg, a->cfg.store, a->schema, &a->store)) {
        fprintf(stderr, "colibri: cannot open the store '%s' (COLIBRI_STORE); see the log above\n",
                a->cfg.store);
        return COLIBRI_ECONFIG;
    }
    return 0;
}

static void app_close(struct app *a)
{
    store_close(a->store);
    schema_free(a->schema);
    config_free(&a->cfg);
}

/* The signals that stop colibri: SIGTERM (Cloud Run, docker stop) and SIGINT (Ctrl-C). */
static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

/*
 * After the first stop signal: a second one ends the process at once, and so
 * does a shutdown that outruns its budget (every part is bounded on its own;
 * this is the last resort). Nothing stored is lost either way: the store
 * holds the positions, and what was not acknowledged is delivered again.
 */
static void *watchdog(void *arg)
{
    sigset_t stop;
    stop_signals(&stop);
    const int64_t deadline = clock_mono_ms() + SHUTDOWN_HARD_MS;
    int sig;
    do {    /* EINTR (a debugger, LeakSanitizer stopping the world) is not the end of the budget */
        int64_t left = deadline - clock_mono_ms();
        left = left > 0 ? left : 0;
        struct timespec budget = { (time_t)(left / 1000), (long)(left % 1000) * 1000000L };
        sig = sigtimedwait(&stop, NULL, &budget);
    } while (sig < 0 && errno == EINTR);
    if (sig > 0) {
        log_warn("received %s again: exiting now", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        _exit(128 + sig);
    }
    log_error("shutdown did not finish within %d ms: exiting now", SHUTDOWN_HARD_MS);
    _exit(1);
}

static void start_watchdog(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, watchdog, NULL) == 0)
        pthread_detach(t);
}

static int cmd_serve(struct app *a)
{
    struct cursor_key key;
    struct http_server *srv = NULL;
    struct subscriber *sub = NULL;
    sigset_t stop;
    int sig, rc = 1;

    if (cursor_key_init(&key, a->cfg.cursor_secret)) {
        fprintf(stderr, "colibri: cannot make a cursor key\n");
        return 1;
    }
    if (!*a->cfg.cursor_secret)
        log_info("COLIBRI_CURSOR_SECRET is unset: cursors are valid for this process only");
    if (*a->cfg.subscribe && subscriber_open(&a->cfg, a->schema, a->store, &sub)) {
        fprintf(stderr, "colibri: cannot subscribe to '%s' (COLIBRI_SUBSCRIBE); see the log above\n",
                a->cfg.subscribe);
        return 2;
    }
    struct http_env env = { .cfg = &a->cfg, .schema = a->schema, .store = a->store,
                            .cursor_key = &key, .subscriber = sub };
    if (http_start(&env, &srv))
        goto out;
    if (sub && subscriber_start(sub))
        goto out;
    stop_signals(&stop);
    sigwait(&stop, &sig);
    log_info("received %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    start_watchdog();
    rc = 0;
out:;
    /* stop fetching, flush and commit; then quiesce HTTP and drain it */
    int64_t t0 = clock_mono_us();
    if (subscriber_stop(sub) == COLIBRI_ETIMEOUT)
        a->store = NULL;    /* a write is still inside it: the process ends without closing it */
    long left = SHUTDOWN_BUDGET_MS - (long)((clock_mono_us() - t0) / 1000);
    if (http_stop(srv, left > 200 ? (int)left : 200) == COLIBRI_ETIMEOUT)
        a->store = NULL;    /* requests are still inside it */
    log_info("stopped in %.2f s", (double)(clock_mono_us() - t0) / 1e6);
    return rc;
}

/*
 * The lines of path (or stdin) through the subscriber's loop, as one more
 * source: one that ends, and whose run a store failure ends too. It reports
 * each rejected line by number and a summary on stderr.
 */
static int cmd_load(struct app *a, int nargs, char **args)
{
    struct subscriber *sub;
    if (subscriber_open_file(&a->cfg, nargs > 0 ? args[0] : "-", a->schema, a->store, &sub))
        return 2;
    int rc = subscriber_run(sub);
    subscriber_stop(sub);
    return rc == 0 ? 0 : rc == COLIBRI_EINVAL ? 1 : 2;
}

static int cmd_check_config(struct app *a)
{
    config_print(&a->cfg, stdout);
    printf("schema: %s, table %s, %zu columns, event time %s\n", a->schema_from, a->schema->table,
           a->schema->nuser, a->schema->cols[a->schema->event_time].name);
    int rc = store_ping(a->store);
    printf("store %s: %s\n", store_name(a->store), rc ? colibri_strerror(rc) : "reachable");
    if (*a->cfg.subscribe) {
        struct subscriber *sub;
        char detail[512] = "";
        int src = subscriber_open(&a->cfg, a->schema, a->store, &sub);
        if (!src)
            src = subscriber_check(sub, detail, sizeof detail);
        printf("source %s: %s\n", a->cfg.subscribe, src ? (*detail ? detail : colibri_strerror(src)) : detail);
        subscriber_stop(sub);
        rc = rc ? rc : src;
    }
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *cmd = "serve";
    int first = 1;
    if (argc > 1 && argv[1][0] != '-') {
        cmd = argv[1];
        first = 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("colibri %s\n", COLIBRI_VERSION);
            return 0;
        }
    }
    if (strcmp(cmd, "serve") && strcmp(cmd, "load") && strcmp(cmd, "check-config")) {
        fprintf(stderr, "colibri: unknown command '%s'\n\n", cmd);
        usage(stderr);
        return 2;
    }

    /* block the stop signals before any thread starts; cmd_serve waits for them */
    sigset_t stop;
    stop_signals(&stop);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* every connection is a descriptor: take the hard limit (a soft 1024 is common) */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    char **rest = calloc((size_t)argc, sizeof *rest);
    int nrest = 0, rc;
    struct app a;
    if (!rest)
        return 2;
    if (app_open(&a, argc - first, argv + first, rest, &nrest)) {
        app_close(&a);
        free(rest);
        return 2;
    }
    if (strcmp(cmd, "load") == 0) {
        pthread_sigmask(SIG_UNBLOCK, &stop, NULL);   /* Ctrl-C stops a load at once */
        rc = nrest > 1 ? (fprintf(stderr, "colibri load: one FILE at most\n"), 2) : cmd_load(&a, nrest, rest);
    } else if (nrest > 0) {
        fprintf(stderr, "colibri %s: unexpected argument '%s'\n", cmd, rest[0]);
        rc = 2;
    } else if (strcmp(cmd, "check-config") == 0) {
        rc = cmd_check_config(&a);
    } else {
        rc = cmd_serve(&a) ? 1 : 0;
    }
    app_close(&a);
    free(rest);
    return rc;
}
