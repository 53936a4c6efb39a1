/*
 * oidc.h — verify the OIDC ID tokens that Pub/Sub push puts in
 * Authorization: Bearer (Google-signed RS256 JWTs).
 *
 * A token passes when its header says RS256 with a kid found in the JWKS,
 * the signature verifies against that key, iss is https://accounts.google.com
 * (or accounts.google.com), aud is the configured audience, exp is not past
 * and iat not in the future (30 s leeway), and, when an email is configured,
 * the email claim matches and email_verified is true.
 *
 * The JWKS is fetched from its URL, cached for an hour and fetched again
 * early when a token names a key we do not have (a rotation), at most every
 * few seconds. Keys are turned from JWK (n, e) into PEM for libjwt.
 */
#ifndef COLIBRI_OIDC_H
#define COLIBRI_OIDC_H

#include <jansson.h>
#include <stddef.h>

struct oidc;

/*
 * jwks_url may be NULL (keys only from oidc_set_jwks: tests). audience must
 * be non-empty; email may be NULL or "" for any. Strings are copied. Caller
 * frees with oidc_free.
 */
int oidc_new(const char *jwks_url, const char *audience, const char *email, struct oidc **out);

/* Replace the cached keys with a JWKS document ({"keys":[…]}, borrowed). */
int oidc_set_jwks(struct oidc *o, const json_t *jwks);

/*
 * 0 if token verifies; COLIBRI_EAUTH when it does not (why says how),
 * COLIBRI_EUNAVAIL when the keys cannot be fetched. Thread-safe.
 */
int oidc_verify(struct oidc *o, const char *token, char *why, size_t whylen);

void oidc_free(struct oidc *o);

#endif
