/*
 * config.h — the effective configuration.
 *
 * One table in config.c lists every setting: name, environment variable,
 * flag, type, default and bounds. Environment first, flags override, an
 * empty value means unset. Every problem is reported with the variable or
 * flag to fix.
 */
#ifndef COLIBRI_CONFIG_H
#define COLIBRI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "colibri/arena.h"

/* COLIBRI_KAFKA_<PROP>=value: the librdkafka property <prop> (_ becomes ., lower case). */
struct kafka_prop {
    const char *env;        /* COLIBRI_KAFKA_SASL_USERNAME */
    const char *name;       /* sasl.username */
    const char *value;
};

struct config {
    char *listen;           /* COLIBRI_LISTEN, host:port */
    long port;              /* PORT (Cloud Run); used when COLIBRI_LISTEN is unset */
    char *listen_host;      /* derived from the two above */
    int listen_port;
    char *store;            /* sqlite:PATH | bigquery:P.D.T */
    char *subscribe;        /* "" | kafka://... | pubsub://... */
    char *schema;           /* path */
    char *event_time;       /* column name */
    char *api_keys;         /* comma list or @file; "" = no auth */
    char *cursor_secret;    /* "" = random per process */
    long http_threads;
    long http_max_conns;
    long http_timeout_s;
    long http_body_max;     /* bytes */
    long http_max_conns_per_client;  /* 0 = no cap */
    long http_head_timeout_ms;  /* request line to end of headers */
    long http_body_timeout_ms;  /* end of headers to end of body */
    long batch_max;
    long batch_ms;
    char *dlq_topic;
    char *group_instance_id;  /* "auto" | "off" | an id: Kafka static group membership */
    char *k_service;        /* K_SERVICE: set by Cloud Run */
    char *log_level;
    char *log_format;
    char *metrics;          /* "on" | "off" */
    char *metrics_key;      /* "" = /metrics open */
    long rate_limit;        /* requests per second per key or client address; 0 = off */
    long rate_burst;
    char *cors_origins;     /* "" = CORS off; "*" or a comma list */
    long query_timeout_ms;
    char *pubsub_endpoint;  /* "" = https://pubsub.googleapis.com; PUBSUB_EMULATOR_HOST wins */
    char *push;             /* "on" | "off": POST /pubsub/push exists */
    char *push_audience;    /* "" = push tokens not verified */
    char *push_jwks_url;
    char *push_service_account;   /* "" = any signer */
    /* BigQuery store */
    char *bq_location;              /* "" = the dataset's */
    long bq_cache_ms;               /* response cache TTL; 0 = off */
    long bq_max_bytes_billed;       /* 0 = no limit */
    long bq_default_window_h;       /* GET /data without since: the last N hours; 0 = unbounded */
    char *bigquery_endpoint;        /* "" = https://bigquery.googleapis.com */
    /* Google's conventional variables */
    char *bigquery_emulator_host;   /* host:port: the emulator, no auth */
    char *pubsub_emulator_host;     /* host:port: the emulator, no auth */
    char *gce_metadata_host;        /* "" = metadata.google.internal */
    char *google_application_credentials;   /* service-account key file; "" = metadata server */
    char *google_cloud_project;     /* access log trace field; "" = none */
    char *cloudsdk_config;          /* gcloud's folder; "" = $HOME/.config/gcloud */
    char *adc_file; /* derived: gcloud's application-default credentials file, or "" */
    struct kafka_prop *kafka_props;     /* the librdkafka pass-through, in environment order */
    size_t nkafka_props, capkafka_props;
    struct arena kafka_texts;           /* owns their strings */
};

/*
 * Build the configuration from the environment (the only place colibri
 * reads it: every setting, and the COLIBRI_KAFKA_* pass-through) and then
 * from flags argv[0..argc) ("--name=value" or "--name value"). Arguments
 * that are not flags are returned in order through rest/nrest (pointers
 * into argv). On error *err holds a message naming the variable or flag.
 * Caller frees with config_free.
 */
int config_load(struct config *c, int argc, char **argv, char **rest, int *nrest,
                char *err, size_t errlen);

void config_free(struct config *c);

/* Print "name=value" for every setting, secrets masked. */
void config_print(const struct config *c, FILE *f);

/* The flags and variables with their defaults, for --help. */
void config_usage(FILE *f);

#endif
