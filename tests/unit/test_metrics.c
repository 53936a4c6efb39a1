/*
 * test_metrics.c — what metrics_render writes after known recordings:
 * exact counters, cumulative histogram buckets with Prometheus's le labels,
 * lag gauges, and nothing recorded while metrics are off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "colibri/error.h"
#include "colibri/metrics.h"

static char *render(void)
{
    struct strbuf sb = STRBUF_INIT;
    struct metrics_probe probe = { .ready = true, .subscribed = true, .assigned = false };
    metrics_render(&sb, &probe);
    return strbuf_detach(&sb, NULL);
}

static void expect_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    fail_msg("missing line: %s", line);
}

static void test_http_counters_and_histogram(void **state)
{
    metrics_http(ROUTE_DATA, "GET", 200, 0.004);
    metrics_http(ROUTE_DATA, "GET", 200, 0.3);        /* on the bound: counts in le="0.3" */
    metrics_http(ROUTE_DATA, "GET", 400, 12.0);       /* past every bound: only +Inf */
    metrics_http(ROUTE_DATA_ID, "DELETE", 405, 0.001);
    char *t = render();
    expect_line(t, "colibri_http_requests_total{route=\"/data\",method=\"GET\",code=\"200\"} 2");
    expect_line(t, "colibri_http_requests_total{route=\"/data\",method=\"GET\",code=\"400\"} 1");
    expect_line(t, "colibri_http_requests_total{route=\"/data/{id}\",method=\"other\",code=\"405\"} 1");
    expect_line(t, "colibri_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"} 0");
    expect_line(t, "colibri_http_request_duration_seconds_bucket{route=\"/data\",le=\"0.005\"} 1");
    expect_line(t, "colibri_http_request_duration_seconds_bucket{route=\"/data\",le=\"0.25\"} 1");
    expect_line(t, "colibri_http_request_duration_seconds_bucket{route=\"/data\",le=\"0.3\"} 2");
    expect_line(t, "colibri_http_request_duration_seconds_bucket{route=\"/data\",le=\"10\"} 2");
    expect_line(t, "colibri_http_request_duration_seconds_bucket{route=\"/data\",le=\"+Inf\"} 3");
    expect_line(t, "colibri_http_request_duration_seconds_count{route=\"/data\"} 3");
    expect_line(t, "colibri_http_request_duration_seconds_sum{route=\"/data\"} 12.304000");
    expect_line(t, "colibri_ready 1");
    expect_line(t, "colibri_subscriber_assigned 0");
    free(t);
}

static void test_batches_lag_and_errors(void **state)
{
    struct insert_result r = { .stored = 90, .duplicates = 4, .dead = 6 };
    metrics_batch("kafka", &r, 100, 0.02, INT64_C(1767225600000000));
    metrics_batch("nosuchsource", &r, 100, 0.02, 0);      /* ignored, not a new label */
    metrics_lag("kafka", 3, 17);
    metrics_lag("kafka", 3, 5);                           /* a gauge: the last value */
    metrics_store_error("sqlite", COLIBRI_EUNAVAIL);
    metrics_upstream_error("kafka", "transient");
    char *t = render();
    expect_line(t, "colibri_ingest_messages_total{source=\"kafka\",result=\"stored\"} 90");
    expect_line(t, "colibri_ingest_messages_total{source=\"kafka\",result=\"duplicate\"} 4");
    expect_line(t, "colibri_ingest_messages_total{source=\"kafka\",result=\"dead_letter\"} 6");
    expect_line(t, "colibri_batch_rows_bucket{source=\"kafka\",le=\"50\"} 0");
    expect_line(t, "colibri_batch_rows_bucket{source=\"kafka\",le=\"100\"} 1");
    expect_line(t, "colibri_consumer_lag_messages{source=\"kafka\",partition=\"3\"} 5");
    expect_line(t, "colibri_newest_event_timestamp_seconds 1767225600.000000");
    expect_line(t, "colibri_store_errors_total{backend=\"sqlite\",kind=\"unavailable\"} 1");
    expect_line(t, "colibri_upstream_errors_total{api=\"kafka\",kind=\"transient\"} 1");
    assert_null(strstr(t, "nosuchsource"));
    free(t);
}

static void test_off_records_nothing(void **state)
{
    char *before = render();
    metrics_enable(false);
    metrics_http(ROUTE_HEALTHZ, "GET", 200, 0.001);
    metrics_lag("kafka", 9, 100);
    metrics_enable(true);
    char *after = render();
    assert_null(strstr(after, "partition=\"9\""));
    expect_line(after, "colibri_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"} 0");
    free(before);
    free(after);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_counters_and_histogram),
        cmocka_unit_test(test_batches_lag_and_errors),
        cmocka_unit_test(test_off_records_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
