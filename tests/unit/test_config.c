/*
 * test_config.c — defaults, environment, flags over environment, empty as
 * unset, bounds and choices, listen address forms, masking.
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

#include "colibri/config.h"
#include "colibri/error.h"

static const char *const vars[] = {
    "PORT", "COLIBRI_LISTEN", "COLIBRI_STORE", "COLIBRI_BATCH_MAX", "COLIBRI_LOG_LEVEL",
    "COLIBRI_API_KEYS", "COLIBRI_CURSOR_SECRET", "COLIBRI_HTTP_THREADS",
    "COLIBRI_KAFKA_SASL_USERNAME", "COLIBRI_KAFKA_SASL_PASSWORD", "COLIBRI_KAFKA_LINGER_MS", "COLIBRI_KAFKA_",
};

static int clean_env(void **state)
{
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    return 0;
}

static int load(struct config *c, int argc, char **argv, char *err)
{
    char *rest[8];
    int nrest;
    return config_load(c, argc, argv, rest, &nrest, err, 256);
}

static void test_defaults(void **state)
{
    struct config c;
    char err[256];
    assert_int_equal(load(&c, 0, NULL, err), 0);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 8080);
    assert_string_equal(c.store, "sqlite:colibri.db");
    assert_string_equal(c.schema, "");      /* unset: found or built in (main.c) */
    assert_string_equal(c.event_time, "event_time");
    assert_int_equal(c.batch_max, 1000);
    assert_int_equal(c.batch_ms, 100);
    assert_string_equal(c.log_format, "json");
    config_free(&c);
}

static void test_env_then_flags_and_empty_is_unset(void **state)
{
    struct config c;
    char err[256], *rest[8];
    int nrest;
    setenv("PORT", "9000", 1);
    setenv("COLIBRI_STORE", "sqlite:/tmp/x.db", 1);
    setenv("COLIBRI_BATCH_MAX", "", 1);     /* empty: the default */
    char *argv[] = { "--store=sqlite:/tmp/y.db", "file.ndjson", "--batch-ms", "250", "--", "--not-a-flag" };
    assert_int_equal(config_load(&c, 6, argv, rest, &nrest, err, sizeof err), 0);
    assert_int_equal(c.listen_port, 9000);
    assert_string_equal(c.store, "sqlite:/tmp/y.db");
    assert_int_equal(c.batch_max, 1000);
    assert_int_equal(c.batch_ms, 250);
    assert_int_equal(nrest, 2);
    assert_string_equal(rest[0], "file.ndjson");
    assert_string_equal(rest[1], "--not-a-flag");
    config_free(&c);
}

static void test_listen_forms(void **state)
{
    struct config c;
    char err[256];
    setenv("PORT", "9000", 1);
    setenv("COLIBRI_LISTEN", "127.0.0.1:7000", 1);      /* wins over PORT */
    assert_int_equal(load(&c, 0, NULL, err), 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 7000);
    config_free(&c);
    setenv("COLIBRI_LISTEN", "[::1]:7001", 1);
    assert_int_equal(load(&c, 0, NULL, err), 0);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 7001);
    config_free(&c);
    static const char *const bad[] = { "7000", ":7000", "host:", "host:0", "host:70000", "[::1:80" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("COLIBRI_LISTEN", bad[i], 1);
        assert_int_equal(load(&c, 0, NULL, err), COLIBRI_ECONFIG);
        assert_non_null(strstr(err, "COLIBRI_LISTEN"));
    }
}

static void test_errors_name_what_to_fix(void **state)
{
    struct config c;
    char err[256];
    setenv("COLIBRI_BATCH_MAX", "0", 1);
    assert_int_equal(load(&c, 0, NULL, err), COLIBRI_ECONFIG);
    assert_non_null(strstr(err, "COLIBRI_BATCH_MAX"));
    assert_non_null(strstr(err, "from 1 to 100000"));
    unsetenv("COLIBRI_BATCH_MAX");
    char *argv1[] = { "--batch-max=12x" };
    assert_int_equal(load(&c, 1, argv1, err), COLIBRI_ECONFIG);
    assert_non_null(strstr(err, "--batch-max"));
    setenv("COLIBRI_LOG_LEVEL", "loud", 1);
    assert_int_equal(load(&c, 0, NULL, err), COLIBRI_ECONFIG);
    assert_non_null(strstr(err, "COLIBRI_LOG_LEVEL"));
    unsetenv("COLIBRI_LOG_LEVEL");
    char *argv2[] = { "--frobnicate=1" };
    assert_int_equal(load(&c, 1, argv2, err), COLIBRI_ECONFIG);
    assert_non_null(strstr(err, "--frobnicate"));
    char *argv3[] = { "--store" };
    assert_int_equal(load(&c, 1, argv3, err), COLIBRI_ECONFIG);
    assert_non_null(strstr(err, "needs a value"));
}

/* What config_print writes for c; the caller frees it. */
static char *printed(const struct config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    config_print(c, f);
    fclose(f);
    return text;
}

static void test_print_masks_secrets(void **state)
{
    struct config c;
    char err[256];
    setenv("COLIBRI_API_KEYS", "key-one,key-two", 1);
    setenv("COLIBRI_CURSOR_SECRET", "hush", 1);
    assert_int_equal(load(&c, 0, NULL, err), 0);
    char *text = printed(&c);
    assert_null(strstr(text, "key-one"));
    assert_null(strstr(text, "hush"));
    assert_non_null(strstr(text, "COLIBRI_API_KEYS=********"));
    assert_non_null(strstr(text, "COLIBRI_STORE=sqlite:colibri.db"));
    free(text);
    config_free(&c);
}

/* COLIBRI_KAFKA_<PROP> becomes librdkafka's <prop>; empty ones are unset; secrets are masked in print. */
static void test_kafka_pass_through(void **state)
{
    struct config c;
    char err[256];
    setenv("COLIBRI_KAFKA_SASL_USERNAME", "u", 1);
    setenv("COLIBRI_KAFKA_SASL_PASSWORD", "hunter2", 1);
    setenv("COLIBRI_KAFKA_LINGER_MS", "", 1);       /* empty: unset */
    setenv("COLIBRI_KAFKA_", "x", 1);               /* no property named */
    assert_int_equal(load(&c, 0, NULL, err), 0);
    assert_int_equal(c.nkafka_props, 2);
    for (size_t i = 0; i < c.nkafka_props; i++) {
        const struct kafka_prop *p = &c.kafka_props[i];
        if (strcmp(p->env, "COLIBRI_KAFKA_SASL_USERNAME") == 0) {
            assert_string_equal(p->name, "sasl.username");
            assert_string_equal(p->value, "u");
        } else {
            assert_string_equal(p->env, "COLIBRI_KAFKA_SASL_PASSWORD");
            assert_string_equal(p->name, "sasl.password");
            assert_string_equal(p->value, "hunter2");
        }
    }
    char *text = printed(&c);
    assert_non_null(strstr(text, "COLIBRI_KAFKA_SASL_USERNAME=u   (librdkafka sasl.username)"));
    assert_non_null(strstr(text, "COLIBRI_KAFKA_SASL_PASSWORD=********   (librdkafka sasl.password)"));
    assert_null(strstr(text, "hunter2"));
    free(text);
    config_free(&c);
    assert_null(c.kafka_props);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clean_env),
        cmocka_unit_test_setup(test_env_then_flags_and_empty_is_unset, clean_env),
        cmocka_unit_test_setup(test_listen_forms, clean_env),
        cmocka_unit_test_setup(test_errors_name_what_to_fix, clean_env),
        cmocka_unit_test_setup(test_print_masks_secrets, clean_env),
        cmocka_unit_test_setup(test_kafka_pass_through, clean_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
