/*
 * metrics.c — fixed tables of relaxed atomics, and the Prometheus text
 * format written by hand (no Prometheus C client is packaged).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "colibri/error.h"
#include "colibri/metrics.h"
#include "colibri/version.h"

#ifndef COLIBRI_COMMIT
#define COLIBRI_COMMIT "unknown"
#endif

typedef atomic_uint_fast64_t counter;

#define ADD(c, n) atomic_fetch_add_explicit(&(c), (uint_fast64_t)(n), memory_order_relaxed)
#define GET(c) ((unsigned long long)atomic_load_explicit(&(c), memory_order_relaxed))
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static atomic_bool enabled = true;

static const char *const route_names[ROUTE_COUNT] = {
    "/data", "/data/{id}", "/healthz", "/readyz", "/metrics", "/openapi.json", "/pubsub/push", "other",
};
static const char *const method_names[] = { "GET", "HEAD", "POST", "other" };
static const unsigned status_codes[] = { 200, 204, 400, 401, 404, 405, 413, 414, 429, 500, 503, 0 };
static const char *const source_names[] = { "kafka", "pubsub", "push", "load" };
static const char *const result_names[] = { "stored", "duplicate", "dead_letter" };
static const char *const store_kinds[] = { "unavailable", "io", "timeout", "invalid" };
static const char *const upstream_apis[] = { "kafka", "bigquery", "pubsub", "metadata" };
static const char *const cut_names[EDGE_CUT_COUNT] = {
    "idle_timeout", "head_timeout", "body_timeout", "evicted", "shutdown",
};
static const char *const reset_names[] = { "truncated", "replaced", "expired" };

#define MAX_BUCKETS 16
static const double latency_bounds[] = { .005, .01, .025, .05, .1, .25, .3, .5, 1, 2.5, 5, 10 };
static const double batch_row_bounds[] = { 1, 10, 50, 100, 250, 500, 1000, 5000, 10000, 50000 };
static const double batch_time_bounds[] = { .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5 };

struct histogram {
    counter buckets[MAX_BUCKETS];   /* non-cumulative; the last is +Inf */
    counter sum;                    /* in units of 1/scale */
    counter count;
};

static struct {
    counter requests[ROUTE_COUNT][COUNT(method_names)][COUNT(status_codes)];
    struct histogram latency[ROUTE_COUNT];
    counter messages[COUNT(source_names)][COUNT(result_names)];
    struct histogram batch_rows[COUNT(source_names)];
    struct histogram batch_seconds[COUNT(source_names)];
    counter store_errors[2][COUNT(store_kinds)];     /* [sqlite, bigquery] */
    counter upstream_errors[COUNT(upstream_apis)][4];
    counter http_cuts[EDGE_CUT_COUNT];
    counter source_resets[COUNT(source_names)][COUNT(reset_names)];
    atomic_int_fast64_t newest_event_us;
    atomic_int_fast64_t last_store_ok_us;
} m;

/* consumer lag: one gauge per (source, partition), updated per batch */
#define MAX_LAG 1024
static struct {
    pthread_mutex_t lock;
    size_t n;
    struct { int source; int32_t partition; int64_t lag; } v[MAX_LAG];
} lags = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const char *const upstream_kinds[] = { "transient", "rejected", "auth", "other" };

void metrics_enable(bool on)
{
    atomic_store(&enabled, on);
}

static bool on(void)
{
    return atomic_load_explicit(&enabled, memory_order_relaxed);
}

static int find(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

static void observe(struct histogram *h, const double *bounds, size_t nb, double v, double scale)
{
    size_t i = 0;
    while (i < nb && v > bounds[i])
        i++;
    ADD(h->buckets[i], 1);
    ADD(h->sum, v * scale + 0.5);
    ADD(h->count, 1);
}

void metrics_http(enum metric_route route, const char *method, unsigned status, double seconds)
{
    if (!on())
        return;
    int mi = find(method_names, COUNT(method_names) - 1, method);
    size_t si = 0;
    while (si < COUNT(status_codes) - 1 && status_codes[si] != status)
        si++;
    ADD(m.requests[route][mi < 0 ? COUNT(method_names) - 1 : (size_t)mi][si], 1);
    observe(&m.latency[route], latency_bounds, COUNT(latency_bounds), seconds, 1e6);
}

static void raise_to(atomic_int_fast64_t *g, int64_t v)
{
    int_fast64_t cur = atomic_load_explicit(g, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(g, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

void metrics_batch(const char *source, const struct insert_result *r, size_t messages,
                   double seconds, int64_t newest_event_us)
{
    int s = find(source_names, COUNT(source_names), source);
    if (!on() || s < 0)
        return;
    ADD(m.messages[s][0], r->stored);
    ADD(m.messages[s][1], r->duplicates);
    ADD(m.messages[s][2], r->dead);
    observe(&m.batch_rows[s], batch_row_bounds, COUNT(batch_row_bounds), (double)messages, 1);
    observe(&m.batch_seconds[s], batch_time_bounds, COUNT(batch_time_bounds), seconds, 1e6);
    if (newest_event_us)
        raise_to(&m.newest_event_us, newest_event_us);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    raise_to(&m.last_store_ok_us, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

void metrics_store_error(const char *backend, int code)
{
    if (!on())
        return;
    size_t kind = code == COLIBRI_EUNAVAIL ? 0 : code == COLIBRI_ETIMEOUT ? 2 : code == COLIBRI_EINVAL ? 3 : 1;
    ADD(m.store_errors[strcmp(backend, "sqlite") == 0 ? 0 : 1][kind], 1);
}

void metrics_upstream_error(const char *api, const char *kind)
{
    int a = find(upstream_apis, COUNT(upstream_apis), api);
    int k = find(upstream_kinds, COUNT(upstream_kinds), kind);
    if (!on() || a < 0)
        return;
    ADD(m.upstream_errors[a][k < 0 ? COUNT(upstream_kinds) - 1 : (size_t)k], 1);
}

void metrics_http_cut(enum edge_cut why)
{
    if (on() && why < EDGE_CUT_COUNT)
        ADD(m.http_cuts[why], 1);
}

void metrics_source_reset(const char *source, const char *reason)
{
    int s = find(source_names, COUNT(source_names), source);
    int r = find(reset_names, COUNT(reset_names), reason);
    if (on() && s >= 0 && r >= 0)
        ADD(m.source_resets[s][r], 1);
}

void metrics_lag(const char *source, int32_t partition, int64_t lag)
{
    int s = find(source_names, COUNT(source_names), source);
    if (!on() || s < 0)
        return;
    pthread_mutex_lock(&lags.lock);
    size_t i = 0;
    while (i < lags.n && !(lags.v[i].source == s && lags.v[i].partition == partition))
        i++;
    if (i < MAX_LAG) {
        lags.v[i].source = s;
        lags.v[i].partition = partition;
        lags.v[i].lag = lag < 0 ? 0 : lag;
        if (i == lags.n)
            lags.n++;
    }
    pthread_mutex_unlock(&lags.lock);
}

static void header(struct strbuf *out, const char *name, const char *type, const char *help)
{
    strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_histogram(struct strbuf *out, const char *name, const char *labels,
                             const struct histogram *h, const double *bounds, size_t nb, double scale)
{
    unsigned long long cum = 0;
    for (size_t i = 0; i <= nb; i++) {
        cum += GET(h->buckets[i]);
        if (i < nb)
            strbuf_addf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, bounds[i], cum);
        else
            strbuf_addf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, cum);
    }
    strbuf_addf(out, "%s_sum{%s} %.6f\n", name, labels, (double)GET(h->sum) / scale);
    strbuf_addf(out, "%s_count{%s} %llu\n", name, labels, GET(h->count));
}

/* RSS, CPU seconds, open and max fds, start time, from /proc. */
static void render_process(struct strbuf *out)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    unsigned long utime = 0, stime = 0;
    unsigned long long start = 0;
    long rss_pages = 0;
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        const char *p = strrchr(buf, ')');   /* the command name may hold spaces */
        if (p)
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu %*u %ld",
                   &utime, &stime, &start, &rss_pages);
    }
    double tick = (double)sysconf(_SC_CLK_TCK);
    double boot = 0;
    if ((f = fopen("/proc/stat", "r"))) {
        while (fgets(buf, sizeof buf, f))
            if (sscanf(buf, "btime %lf", &boot) == 1)
                break;
        fclose(f);
    }
    long open_fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        /* cppcheck-suppress readdirCalled ; one DIR per call: readdir is thread-safe on distinct streams (POSIX 2018), readdir_r is deprecated */
        for (struct dirent *e; (e = readdir(d));)
            open_fds += e->d_name[0] != '.';
        closedir(d);
        open_fds--;     /* the one opendir holds */
    }
    struct rlimit rl = { 0 };
    getrlimit(RLIMIT_NOFILE, &rl);
    header(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    strbuf_addf(out, "process_resident_memory_bytes %ld\n", rss_pages * sysconf(_SC_PAGESIZE));
    header(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    strbuf_addf(out, "process_cpu_seconds_total %.2f\n", (double)(utime + stime) / tick);
    header(out, "process_open_fds", "gauge", "Number of open file descriptors.");
    strbuf_addf(out, "process_open_fds %ld\n", open_fds);
    header(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    strbuf_addf(out, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    header(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    strbuf_addf(out, "process_start_time_seconds %.2f\n", boot + (double)start / tick);
}

void metrics_render(struct strbuf *out, const struct metrics_probe *probe)
{
    char labels[128];
    header(out, "colibri_build_info", "gauge", "Version and commit of this build.");
    strbuf_addf(out, "colibri_build_info{version=\"%s\",commit=\"%s\"} 1\n", COLIBRI_VERSION, COLIBRI_COMMIT);
    header(out, "colibri_ready", "gauge", "1 when /readyz answers 200.");
    strbuf_addf(out, "colibri_ready %d\n", probe->ready);
    header(out, "colibri_subscriber_assigned", "gauge", "1 when the subscriber has its share of the source.");
    strbuf_addf(out, "colibri_subscriber_assigned %d\n", probe->subscribed && probe->assigned);

    header(out, "colibri_http_requests_total", "counter", "HTTP requests by route, method and status.");
    for (size_t r = 0; r < ROUTE_COUNT; r++)
        for (size_t mi = 0; mi < COUNT(method_names); mi++)
            for (size_t s = 0; s < COUNT(status_codes); s++) {
                unsigned long long v = GET(m.requests[r][mi][s]);
                /* the usual outcomes exist from the start, so that rate() sees their first increase */
                bool usual = mi == 0 && (status_codes[s] == 200 || status_codes[s] == 400 ||
                                         status_codes[s] == 404 || status_codes[s] >= 500);
                if (!v && !usual)
                    continue;
                if (status_codes[s])
                    strbuf_addf(out, "colibri_http_requests_total{route=\"%s\",method=\"%s\",code=\"%u\"} %llu\n",
                                route_names[r], method_names[mi], status_codes[s], v);
                else
                    strbuf_addf(out, "colibri_http_requests_total{route=\"%s\",method=\"%s\",code=\"other\"} %llu\n",
                                route_names[r], method_names[mi], v);
            }
    header(out, "colibri_http_request_duration_seconds", "histogram", "HTTP request latency by route.");
    for (size_t r = 0; r < ROUTE_COUNT; r++) {
        if (!GET(m.latency[r].count))
            continue;
        snprintf(labels, sizeof labels, "route=\"%s\"", route_names[r]);
        render_histogram(out, "colibri_http_request_duration_seconds", labels, &m.latency[r],
                         latency_bounds, COUNT(latency_bounds), 1e6);
    }

    header(out, "colibri_http_connections_cut_total", "counter",
           "Connections the server cut: deadlines for a request's head or body, idle, evicted when full.");
    for (size_t c = 0; c < EDGE_CUT_COUNT; c++)
        strbuf_addf(out, "colibri_http_connections_cut_total{reason=\"%s\"} %llu\n", cut_names[c],
                    GET(m.http_cuts[c]));

    header(out, "colibri_source_resets_total", "counter",
           "Source positions that went backwards or a log that was replaced (topic recreated).");
    for (size_t s = 0; s < 2; s++)      /* kafka and pubsub: the sources with positions */
        for (size_t r = 0; r < COUNT(reset_names); r++)
            strbuf_addf(out, "colibri_source_resets_total{source=\"%s\",reason=\"%s\"} %llu\n",
                        source_names[s], reset_names[r], GET(m.source_resets[s][r]));

    header(out, "colibri_ingest_messages_total", "counter", "Ingested messages by source and result.");
    for (size_t s = 0; s < COUNT(source_names); s++)
        for (size_t r = 0; r < COUNT(result_names); r++)
            if (GET(m.batch_rows[s].count))
                strbuf_addf(out, "colibri_ingest_messages_total{source=\"%s\",result=\"%s\"} %llu\n",
                            source_names[s], result_names[r], GET(m.messages[s][r]));
    header(out, "colibri_batch_rows", "histogram", "Messages per stored batch.");
    for (size_t s = 0; s < COUNT(source_names); s++) {
        if (!GET(m.batch_rows[s].count))
            continue;
        snprintf(labels, sizeof labels, "source=\"%s\"", source_names[s]);
        render_histogram(out, "colibri_batch_rows", labels, &m.batch_rows[s], batch_row_bounds,
                         COUNT(batch_row_bounds), 1);
    }
    header(out, "colibri_batch_duration_seconds", "histogram", "Time to store one batch.");
    for (size_t s = 0; s < COUNT(source_names); s++) {
        if (!GET(m.batch_seconds[s].count))
            continue;
        snprintf(labels, sizeof labels, "source=\"%s\"", source_names[s]);
        render_histogram(out, "colibri_batch_duration_seconds", labels, &m.batch_seconds[s],
                         batch_time_bounds, COUNT(batch_time_bounds), 1e6);
    }

    header(out, "colibri_consumer_lag_messages", "gauge", "Messages behind the head, per partition.");
    pthread_mutex_lock(&lags.lock);
    for (size_t i = 0; i < lags.n; i++)
        strbuf_addf(out, "colibri_consumer_lag_messages{source=\"%s\",partition=\"%d\"} %lld\n",
                    source_names[lags.v[i].source], (int)lags.v[i].partition, (long long)lags.v[i].lag);
    pthread_mutex_unlock(&lags.lock);

    header(out, "colibri_newest_event_timestamp_seconds", "gauge", "Event time of the newest stored row.");
    strbuf_addf(out, "colibri_newest_event_timestamp_seconds %.6f\n", (double)atomic_load(&m.newest_event_us) / 1e6);
    header(out, "colibri_last_store_success_timestamp_seconds", "gauge", "When a batch was last stored.");
    strbuf_addf(out, "colibri_last_store_success_timestamp_seconds %.6f\n",
                (double)atomic_load(&m.last_store_ok_us) / 1e6);

    header(out, "colibri_store_errors_total", "counter", "Store errors by backend and kind.");
    for (size_t b = 0; b < 2; b++)
        for (size_t k = 0; k < COUNT(store_kinds); k++)
            strbuf_addf(out, "colibri_store_errors_total{backend=\"%s\",kind=\"%s\"} %llu\n",
                        b ? "bigquery" : "sqlite", store_kinds[k], GET(m.store_errors[b][k]));
    header(out, "colibri_upstream_errors_total", "counter", "Errors from upstream APIs by kind.");
    for (size_t a = 0; a < COUNT(upstream_apis); a++)
        for (size_t k = 0; k < COUNT(upstream_kinds); k++)
            if (GET(m.upstream_errors[a][k]))
                strbuf_addf(out, "colibri_upstream_errors_total{api=\"%s\",kind=\"%s\"} %llu\n",
                            upstream_apis[a], upstream_kinds[k], GET(m.upstream_errors[a][k]));
    render_process(out);
}
