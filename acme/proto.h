/* proto: what the ACME server (acme/server.h) and the HTTP layer in front
 * of it (node/acmehttp.c) trade: the server's configuration, one request as
 * read, and its answer. Plain data; any thread. */
#ifndef REVD_ACME_PROTO_H
#define REVD_ACME_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "acme/nonce.h"
#include "acme/validate.h"

struct acme_config {
    const char *base_url;     /* "https://127.0.0.1:14000", no trailing '/'; the directory is BASE/acme/directory */
    int eab_required;         /* 1: new accounts need an EAB key (acme/eab.h) */
    const char *ca;           /* accounts without EAB issue from this CA (NULL: they cannot order) */
    const char *tmpl;         /* ... with this template ("server") */
    struct acme_vconf v;      /* how challenges are validated */
    int validation_threads;
    int orders_per_hour;      /* new orders per account and hour; 0: no limit */
    int accounts_per_hour;    /* new accounts per client address and hour; 0: no limit */
    int max_days;             /* the longest validity an order may ask (notAfter); also the default */
    void (*changed)(void *arg, const char *what); /* a certificate was issued or revoked: publish it */
    void *changed_arg;
};

/* One request, as the HTTP layer read it. body: len bytes (not
 * NUL-terminated), at most ACME_MAX_BODY. */
#define ACME_MAX_BODY (64 * 1024)
/* The HTTP layer reads bodies up to this, so that one past ACME_MAX_BODY
 * still gets a problem document with a nonce; past it, libevent answers 413
 * itself. At acme-max-conns connections, at most that many times this in
 * memory. */
#define ACME_READ_MAX (4 * ACME_MAX_BODY)
struct acme_req {
    const char *method; /* "GET", "HEAD", "POST" */
    const char *path;   /* "/acme/new-order" */
    const char *content_type; /* may be NULL */
    const uint8_t *body;
    size_t len;
    const char *source; /* "1.2.3.4:5678", for the audit log */
};

/* What to answer. body is malloc'd (the caller frees it), may be NULL. */
struct acme_resp {
    int status;
    const char *content_type; /* static string, or NULL with no body */
    char *body;
    size_t len;
    char location[512];
    char link[2][600];        /* whole Link header values */
    int nlinks;
    int retry_after;          /* seconds; 0: none */
    char nonce[ACME_NONCE_LEN + 1]; /* Replay-Nonce: always set */
};

#endif
