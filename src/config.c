/*
 * config.c — every setting in one table: environment variable, flag, type,
 * default and bounds. Environment first, flags override, empty means unset.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/array.h"
#include "colibri/config.h"
#include "colibri/error.h"
#include "colibri/log.h"

enum setting_type { T_STR, T_LONG };

struct setting {
    const char *flag;       /* without the leading "--" */
    const char *env;
    enum setting_type type;
    size_t offset;
    const char *def;
    long min, max;          /* T_LONG bounds */
    const char *const *choices;   /* T_STR: allowed values, NULL-terminated, or NULL */
    bool secret;
    const char *help;
};

static const char *const log_levels[] = { "debug", "info", "warn", "warning", "error", NULL };
static const char *const log_formats[] = { "json", "text", NULL };
static const char *const on_off[] = { "on", "off", NULL };

/* clang-format off */
/* One row each: a string, a string from a list of choices, a secret (masked, empty by default), a number. */
#define STR(f, e, field, d, h) \
    { .flag = f, .env = e, .type = T_STR, .offset = offsetof(struct config, field), .def = d, .help = h }
#define CHOICE(f, e, field, d, ch, h) \
    { .flag = f, .env = e, .type = T_STR, .offset = offsetof(struct config, field), .def = d, \
      .choices = ch, .help = h }
#define SECRET(f, e, field, h) \
    { .flag = f, .env = e, .type = T_STR, .offset = offsetof(struct config, field), .def = "", \
      .secret = true, .help = h }
#define NUM(f, e, field, d, lo, hi, h) \
    { .flag = f, .env = e, .type = T_LONG, .offset = offsetof(struct config, field), .def = d, \
      .min = lo, .max = hi, .help = h }

static const struct setting settings[] = {
    STR("listen", "COLIBRI_LISTEN", listen, "", "host:port to listen on (default 0.0.0.0:$PORT)"),
    NUM("port", "PORT", port, "8080", 1, 65535, "port, when --listen is not given (Cloud Run sets PORT)"),
    STR("store", "COLIBRI_STORE", store, "sqlite:colibri.db", "sqlite:PATH or bigquery:PROJECT.DATASET.TABLE"),
    STR("subscribe", "COLIBRI_SUBSCRIBE", subscribe, "", "kafka://HOST:PORT/TOPIC?group=G or pubsub://projects/P/subscriptions/S"),
    STR("schema", "COLIBRI_SCHEMA", schema, "", "table schema file (BigQuery JSON schema); default: schema/flights.json "
        "in the working directory, else the one installed with colibri (../share/colibri/ or ../schema/ from the "
        "binary), else the copy built into colibri"),
    STR("event-time", "COLIBRI_EVENT_TIME", event_time, "event_time", "TIMESTAMP column for order, since and until"),
    SECRET("api-keys", "COLIBRI_API_KEYS", api_keys, "comma list of API keys or @file; empty = no auth on /data"),
    SECRET("cursor-secret", "COLIBRI_CURSOR_SECRET", cursor_secret,
           "HMAC key for cursors; set it when several instances serve one table"),
    NUM("http-threads", "COLIBRI_HTTP_THREADS", http_threads, "0", 0, 256, "HTTP worker threads, 0 = number of cores"),
    NUM("http-max-connections", "COLIBRI_HTTP_MAX_CONNECTIONS", http_max_conns, "1024", 1, 65536, "concurrent connections"),
    NUM("http-max-connections-per-client", "COLIBRI_HTTP_MAX_CONNECTIONS_PER_CLIENT", http_max_conns_per_client,
        "512", 0, 65536, "concurrent connections from one client address; 0 = no cap (behind a proxy such as Cloud Run's)"),
    NUM("http-timeout", "COLIBRI_HTTP_TIMEOUT_S", http_timeout_s, "30", 1, 3600,
        "idle connection timeout, seconds (also the longest wait for a request line)"),
    NUM("http-head-timeout-ms", "COLIBRI_HTTP_HEAD_TIMEOUT_MS", http_head_timeout_ms, "10000", 100, 600000,
        "longest time from a request line to the end of its headers, however slowly they trickle"),
    NUM("http-body-timeout-ms", "COLIBRI_HTTP_BODY_TIMEOUT_MS", http_body_timeout_ms, "30000", 100, 3600000,
        "longest time to receive a request body"),
    NUM("http-body-max", "COLIBRI_HTTP_BODY_MAX", http_body_max, "10485760", 1024, 1073741824, "largest request body, bytes"),
    NUM("batch-max", "COLIBRI_BATCH_MAX", batch_max, "1000", 1, 100000, "flush a batch at this many rows"),
    NUM("batch-ms", "COLIBRI_BATCH_MS", batch_ms, "100", 1, 60000, "flush a batch at this age, milliseconds"),
    STR("dlq-topic", "COLIBRI_DLQ_TOPIC", dlq_topic, "", "where rejected messages are also published (Kafka default <topic>.dlq)"),
    STR("group-instance-id", "COLIBRI_GROUP_INSTANCE_ID", group_instance_id, "auto",
        "Kafka static membership id: auto (colibri-<hostname>-<port>; off on Cloud Run), off, or an id "
        "unique per instance and stable across its restarts"),
    STR("k-service", "K_SERVICE", k_service, "", "set by Cloud Run (the service name); turns auto ids off"),
    CHOICE("log-level", "COLIBRI_LOG_LEVEL", log_level, "info", log_levels, "debug, info, warn or error"),
    CHOICE("log-format", "COLIBRI_LOG_FORMAT", log_format, "json", log_formats, "json (Cloud Logging) or text"),
    CHOICE("metrics", "COLIBRI_METRICS", metrics, "on", on_off, "on or off: record and serve /metrics"),
    SECRET("metrics-key", "COLIBRI_METRICS_KEY", metrics_key, "key for /metrics (Bearer or X-API-Key); empty = open"),
    NUM("rate-limit", "COLIBRI_RATE_LIMIT", rate_limit, "0", 0, 1000000,
        "requests per second per API key (or client address without keys); 0 = off"),
    NUM("rate-burst", "COLIBRI_RATE_BURST", rate_burst, "100", 1, 1000000, "requests allowed at once above the rate"),
    STR("cors-origins", "COLIBRI_CORS_ORIGINS", cors_origins, "", "origins allowed by CORS: * or a comma list; empty = off"),
    NUM("query-timeout-ms", "COLIBRI_QUERY_TIMEOUT_MS", query_timeout_ms, "5000", 10, 600000,
        "longest a query may run before it is stopped with 503"),
    STR("pubsub-endpoint", "COLIBRI_PUBSUB_ENDPOINT", pubsub_endpoint, "",
        "Pub/Sub API base URL, with auth (default https://pubsub.googleapis.com; PUBSUB_EMULATOR_HOST wins)"),
    CHOICE("push", "COLIBRI_PUSH", push, "off", on_off, "on or off: serve POST /pubsub/push (Pub/Sub push delivery)"),
    STR("push-audience", "COLIBRI_PUSH_AUDIENCE", push_audience, "",
        "audience that POST /pubsub/push OIDC tokens must carry; empty = tokens not verified"),
    STR("push-jwks-url", "COLIBRI_PUSH_JWKS_URL", push_jwks_url, "https://www.googleapis.com/oauth2/v3/certs",
        "where the keys that sign push tokens are published"),
    STR("push-service-account", "COLIBRI_PUSH_SERVICE_ACCOUNT", push_service_account, "",
        "the email push tokens must be issued for; empty = any"),
    STR("bq-location", "COLIBRI_BQ_LOCATION", bq_location, "", "BigQuery job location; empty = the dataset's"),
    NUM("bq-cache-ms", "COLIBRI_BQ_CACHE_MS", bq_cache_ms, "2000", 0, 3600000,
        "BigQuery: reuse a query's rows this long, milliseconds; 0 = off"),
    NUM("bq-max-bytes-billed", "COLIBRI_BQ_MAX_BYTES_BILLED", bq_max_bytes_billed, "10737418240", 0, LONG_MAX,
        "BigQuery: refuse (413) a query that would bill more bytes; 0 = no limit"),
    NUM("bq-default-window-h", "COLIBRI_BQ_DEFAULT_WINDOW_H", bq_default_window_h, "168", 0, 876000,
        "BigQuery: GET /data without since reads only the last N hours, so the partition filter always "
        "applies and cost stays predictable; 0 = unbounded"),
    STR("bigquery-endpoint", "COLIBRI_BIGQUERY_ENDPOINT", bigquery_endpoint, "",
        "BigQuery API base URL, with auth (default https://bigquery.googleapis.com)"),
    STR("bigquery-emulator-host", "BIGQUERY_EMULATOR_HOST", bigquery_emulator_host, "",
        "host:port of a BigQuery emulator (no auth); wins over --bigquery-endpoint"),
    STR("pubsub-emulator-host", "PUBSUB_EMULATOR_HOST", pubsub_emulator_host, "",
        "host:port of a Pub/Sub emulator (no auth); wins over --pubsub-endpoint"),
    STR("gce-metadata-host", "GCE_METADATA_HOST", gce_metadata_host, "",
        "metadata server for access tokens (default metadata.google.internal)"),
    STR("google-application-credentials", "GOOGLE_APPLICATION_CREDENTIALS", google_application_credentials, "",
        "service-account key file; empty = tokens from the metadata server"),
    STR("google-cloud-project", "GOOGLE_CLOUD_PROJECT", google_cloud_project, "",
        "project for the trace field of access log lines; empty = none"),
    STR("cloudsdk-config", "CLOUDSDK_CONFIG", cloudsdk_config, "",
        "gcloud's configuration folder, where application-default credentials are looked for when "
        "no key file is given; empty = $HOME/.config/gcloud"),
};
/* clang-format on */
#define NSETTINGS (sizeof settings / sizeof settings[0])

static char **str_field(struct config *c, const struct setting *s)
{
    return (char **)((char *)c + s->offset);
}

static long *long_field(struct config *c, const struct setting *s)
{
    return (long *)((char *)c + s->offset);
}

/* Where a value came from, for error messages. */
static void origin(const struct setting *s, bool from_flag, char *buf, size_t n)
{
    if (from_flag)
        snprintf(buf, n, "--%s", s->flag);
    else
        snprintf(buf, n, "%s", s->env);
}

static int set_value(struct config *c, const struct setting *s, const char *v, bool from_flag,
                     char *err, size_t errlen)
{
    char where[64];
    origin(s, from_flag, where, sizeof where);
    if (s->type == T_LONG) {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < s->min || n > s->max) {
            snprintf(err, errlen, "%s: expected an integer from %ld to %ld, got '%.40s'",
                     where, s->min, s->max, v);
            return COLIBRI_ECONFIG;
        }
        *long_field(c, s) = n;
        return 0;
    }
    if (s->choices) {
        bool ok = false;
        for (const char *const *ch = s->choices; *ch; ch++)
            ok |= strcmp(*ch, v) == 0;
        if (!ok) {
            snprintf(err, errlen, "%s: unknown value '%.40s'; expected %s", where, v, s->help);
            return COLIBRI_ECONFIG;
        }
    }
    char *copy = strdup(v);
    if (!copy)
        return COLIBRI_ENOMEM;
    free(*str_field(c, s));
    *str_field(c, s) = copy;
    return 0;
}

static const struct setting *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strlen(settings[i].flag) == len && strncmp(settings[i].flag, name, len) == 0)
            return &settings[i];
    return NULL;
}

/* Split cfg->listen (or PORT) into host and port. */
static int derive_listen(struct config *c, char *err, size_t errlen)
{
    const char *l = c->listen;
    char host[256];
    long port = c->port;
    if (*l) {
        const char *colon = strrchr(l, ':');
        char *end;
        if (!colon || colon == l || (size_t)(colon - l) >= sizeof host) {
            snprintf(err, errlen, "COLIBRI_LISTEN/--listen: expected host:port, got '%.60s'", l);
            return COLIBRI_ECONFIG;
        }
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || port < 1 || port > 65535) {
            snprintf(err, errlen, "COLIBRI_LISTEN/--listen: bad port in '%.60s'", l);
            return COLIBRI_ECONFIG;
        }
        memcpy(host, l, (size_t)(colon - l));
        host[colon - l] = '\0';
        if (host[0] == '[') {   /* [::1]:8080 */
            size_t hl = strlen(host);
            if (hl < 3 || host[hl - 1] != ']') {
                snprintf(err, errlen, "COLIBRI_LISTEN/--listen: bad IPv6 address in '%.60s'", l);
                return COLIBRI_ECONFIG;
            }
            memmove(host, host + 1, hl - 2);
            host[hl - 2] = '\0';
        }
    } else {
        strcpy(host, "0.0.0.0");
    }
    c->listen_host = strdup(host);
    c->listen_port = (int)port;
    return c->listen_host ? 0 : COLIBRI_ENOMEM;
}

/* gcloud's application-default credentials file (gcloud auth application-default login). */
static int derive_adc_file(struct config *c)
{
    const char *home = getenv("HOME");
    int n;
    if (*c->cloudsdk_config)
        n = asprintf(&c->adc_file, "%s/application_default_credentials.json", c->cloudsdk_config);
    else if (home && *home)
        n = asprintf(&c->adc_file, "%s/.config/gcloud/application_default_credentials.json", home);
    else
        n = (c->adc_file = strdup("")) ? 0 : -1;
    if (n < 0)
        c->adc_file = NULL;
    return c->adc_file ? 0 : COLIBRI_ENOMEM;
}

#define KAFKA_PREFIX "COLIBRI_KAFKA_"

/* Every non-empty COLIBRI_KAFKA_<PROP> of the environment, as a librdkafka property. */
static int collect_kafka_props(struct config *c)
{
    extern char **environ;
    const size_t plen = strlen(KAFKA_PREFIX);
    struct arena *a = &c->kafka_texts;
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, KAFKA_PREFIX, plen) != 0 || (size_t)(eq - *e) == plen || !eq[1])
            continue;
        char *name = arena_dup(a, *e + plen, (size_t)(eq - *e) - plen);
        struct kafka_prop p = { arena_dup(a, *e, (size_t)(eq - *e)), name, arena_strdup(a, eq + 1) };
        if (!p.env || !name || !p.value ||
            array_grow((void **)&c->kafka_props, c->nkafka_props, &c->capkafka_props, sizeof p, 8))
            return COLIBRI_ENOMEM;
        for (char *ch = name; *ch; ch++)
            *ch = *ch == '_' ? '.' : (char)tolower((unsigned char)*ch);
        c->kafka_props[c->nkafka_props++] = p;
    }
    return 0;
}

int config_load(struct config *c, int argc, char **argv, char **rest, int *nrest,
                char *err, size_t errlen)
{
    int rc;
    memset(c, 0, sizeof *c);
    *nrest = 0;
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *env = getenv(settings[i].env);
        bool from_env = env && *env;
        if ((rc = set_value(c, &settings[i], from_env ? env : settings[i].def, false, err, errlen)))
            goto fail;
    }
    if ((rc = collect_kafka_props(c))) {
        snprintf(err, errlen, "out of memory reading " KAFKA_PREFIX "* variables");
        goto fail;
    }
    bool flags_done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (flags_done || strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (strcmp(a, "--") == 0 && !flags_done) {
                flags_done = true;
                continue;
            }
            rest[(*nrest)++] = argv[i];
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct setting *s = find_flag(name, len);
        if (!s) {
            snprintf(err, errlen, "unknown flag '%.60s' (see colibri --help)", a);
            rc = COLIBRI_ECONFIG;
            goto fail;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            snprintf(err, errlen, "flag --%s needs a value", s->flag);
            rc = COLIBRI_ECONFIG;
            goto fail;
        }
        if (!*v)
            v = s->def;     /* empty = unset */
        if ((rc = set_value(c, s, v, true, err, errlen)))
            goto fail;
    }
    if ((rc = derive_listen(c, err, errlen)) || (rc = derive_adc_file(c)))
        goto fail;
    return 0;
fail:
    config_free(c);
    return rc;
}

void config_free(struct config *c)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].type == T_STR)
            free(*str_field(c, &settings[i]));
    free(c->listen_host);
    free(c->adc_file);
    free(c->kafka_props);
    arena_release(&c->kafka_texts);
    memset(c, 0, sizeof *c);
}

/* Whether a librdkafka property holds a secret (sasl.password, ssl.key.password, ...). */
static bool kafka_secret(const char *env)
{
    static const char *const words[] = { "PASSWORD", "SECRET", "TOKEN", "JAAS", "KEY_PEM", "_KEY" };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(env, words[i]))
            return true;
    return false;
}

void config_print(const struct config *c, FILE *f)
{
    fprintf(f, "listen=%s:%d\n", c->listen_host, c->listen_port);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (s->type == T_LONG) {
            fprintf(f, "%s=%ld\n", s->env, *long_field((struct config *)c, s));
        } else {
            const char *v = *str_field((struct config *)c, s);
            fprintf(f, "%s=%s\n", s->env, s->secret && *v ? "********" : v);
        }
    }
    for (size_t i = 0; i < c->nkafka_props; i++) {
        const struct kafka_prop *p = &c->kafka_props[i];
        fprintf(f, "%s=%s   (librdkafka %s)\n", p->env, kafka_secret(p->env) ? "********" : p->value, p->name);
    }
}

void config_usage(FILE *f)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        fprintf(f, "  --%-22s %-28s %s", s->flag, s->env, s->help);
        if (*s->def && !s->secret)
            fprintf(f, " [%s]", s->def);
        fputc('\n', f);
    }
    fprintf(f, "  %-53s %s\n", "COLIBRI_KAFKA_<PROP>", "any librdkafka property <prop> (_ becomes ., lower case), "
            "e.g. COLIBRI_KAFKA_SECURITY_PROTOCOL=SASL_SSL; an unknown one stops colibri at start; "
            "check-config lists those set");
}
