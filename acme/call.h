/* call: what the units of the ACME server share: struct acme (the
 * server), struct acme_call (one POST being answered, its JWS verified by
 * acme/server.c) and the answers every resource gives (a reply, an RFC 8555
 * problem document, the URLs it hands out). The resources are
 * acme/account.c, acme/order.c and acme/revoke.c. Private to acme/.
 * CA-core thread. */
#ifndef REVD_ACME_CALL_H
#define REVD_ACME_CALL_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "acme/jws.h"
#include "acme/nonce.h"
#include "acme/proto.h"
#include "acme/store.h"
#include "acme/vpool.h"

#define ACME_ERR "urn:ietf:params:acme:error:"
#define ACME_RATE_SLOTS 1024
#define ACME_ORDER_IDENTS_MAX 100
#define ACME_AUTHZ_LIFETIME_S (7 * 86400)
#define ACME_ORDER_LIFETIME_S (7 * 86400)

struct acme_rate {
    char key[64]; /* an account id, or "src:ADDRESS" */
    int64_t window;
    int count;
};

struct acme_pending {
    char order[ACME_ID_LEN + 1];
    struct acme_pending *next;
};

struct acme {
    struct ca_core *core;
    struct acme_config cf;
    char base[256];
    char ca[65], tmpl[32];
    struct acme_nonces *nonces;
    struct acme_vpool *pool;
    struct acme_pending *to_issue; /* orders finalized, issued at the next drain */
    struct acme_rate rate[ACME_RATE_SLOTS];
};

/* One POST being answered: the verified JWS and who signed it. */
struct acme_call {
    struct acme *a;
    const struct acme_req *rq;
    struct acme_resp *rs;
    struct jws jws;
    json_t *payload;   /* the payload as JSON; NULL for POST-as-GET */
    json_t *acct;      /* the account (kid requests); owned */
    char acct_id[ACME_ID_LEN + 1];
    EVP_PKEY *key;     /* the key that signed */
};

/* Answers (acme/call.c). problem: the type's suffix ("malformed"). */
int acme_problem(struct acme_call *k, int status, const char *problem, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void acme_reply(struct acme_call *k, int status, json_t *body); /* takes body */
void acme_url(const struct acme *a, char *out, size_t size, const char *kind, const char *id);
void acme_link_up(struct acme_call *k, const char *kind, const char *id);
void acme_set_actor(struct acme_call *k);

/* The certificates the ACME server keeps ("cert/SERIAL": the chain as PEM).
 * acme_pem_leaf: the first certificate of pem (caller frees), or NULL.
 * acme_serial_hex: x's serial as `openssl x509 -serial` writes it (the
 * records' key); 1, or 0 when it is not a serial revd could have issued. */
#define ACME_SERIAL_HEX_MAX (2 * 21 + 3)
X509 *acme_pem_leaf(const char *pem);
int acme_serial_hex(const X509 *x, char out[ACME_SERIAL_HEX_MAX]);

/* acme_rate_take counts one more for key (an account, a source address) in
 * its hour; 0 past per_hour (0: no limit). A fixed table of
 * ACME_RATE_SLOTS: two keys that share a slot reset each other's count,
 * which errs towards letting a request through. */
int acme_rate_take(struct acme *a, const char *key, int per_hour);

#endif
