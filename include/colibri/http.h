/*
 * http.h — the HTTP API server (libmicrohttpd).
 *
 * server.c owns the daemon, the routing table and the JSON error envelope;
 * each route group lives in its own file under src/http/.
 */
#ifndef COLIBRI_HTTP_H
#define COLIBRI_HTTP_H

#include "colibri/config.h"
#include "colibri/query.h"
#include "colibri/schema.h"
#include "colibri/store.h"

struct http_server;
struct subscriber;

/* What the routes need; all borrowed, must outlive the server. */
struct http_env {
    const struct config *cfg;
    const struct schema *schema;
    struct store *store;
    const struct cursor_key *cursor_key;
    struct subscriber *subscriber;      /* NULL when not subscribed */
};

/* Start listening on cfg->listen_host:listen_port. */
int http_start(const struct http_env *env, struct http_server **out);

/*
 * Stop accepting, cut connections with no request in progress, let requests
 * in progress finish for up to grace_ms, then stop and free the server.
 * COLIBRI_ETIMEOUT: some were still in progress (a store that does not
 * answer); they are left running on their threads, so the store must not be
 * closed under them (the process should just exit).
 */
int http_stop(struct http_server *srv, int grace_ms);

#endif
