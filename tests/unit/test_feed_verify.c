/* feed/verify: what an edge checks on what the feed brings, with real
 * inputs: certificates made here with OpenSSL (a root, an intermediate,
 * another root, a root's twin with the same name and another key, and
 * delegated responders with and without id-kp-OCSPSigning), OCSP responses
 * built by revd's own builder (ocsp/response.h, the bytes an edge gets) and
 * CRLs by revd's own CRL builder (crl/build.h). Every refusal is checked to
 * say why (the message names what was wrong). The cost of a response whose
 * responder is cached is printed (ECDSA P-256), not asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crl/build.h"
#include "feed/verify.h"
#include "ocsp/response.h"

/* AlgorithmIdentifier { ecdsa-with-SHA256 } (no parameters) */
static const uint8_t SIGALG[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
/* { sha256WithRSAEncryption, NULL } and { Ed25519 } */
static const uint8_t SIGALG_RSA[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                     0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
static const uint8_t SIGALG_ED25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t SERIAL[] = {0x7a, 0x3c, 0x5e};
#define DAY 86400

/* A key and its certificate. */
enum kind { KIND_P256, KIND_RSA, KIND_ED25519 };
struct id {
    enum kind kind; /* of key, set before make() */
    EVP_PKEY *key;
    X509 *cert;
    uint8_t *der;
    size_t der_len;
    int corrupt; /* sign_cb flips a signature octet */
};

static struct {
    int64_t now;
    struct id root, inter, other, twin, rsp, rsp_noeku, rsp_other, rsp_twin, leaf, rsp_rsa, rsp_ed25519;
    char dir[64], anchors[96];
    struct feed_anchors *a;
    struct feed_trust *t; /* of root */
} F;

static void make(struct id *x, struct id *issuer, const char *cn, long serial, int ca, int ocsp_signer) {
    x->key = x->kind == KIND_RSA ? EVP_RSA_gen(2048) : x->kind == KIND_ED25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                                                                     : EVP_EC_gen("P-256");
    assert_non_null(x->key);
    X509 *c = X509_new();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(c, n);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer->cert) : n);
    X509_NAME_free(n);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 30L * DAY);
    X509_set_pubkey(c, x->key);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer->cert : c, c, NULL, NULL, 0);
    const char *exts[][2] = {
        {"basicConstraints", ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
        {"keyUsage", ca ? "critical,keyCertSign,cRLSign,digitalSignature" : "critical,digitalSignature"},
        {"subjectKeyIdentifier", "hash"},
        {"extendedKeyUsage", ocsp_signer ? "OCSPSigning" : NULL},
    };
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        if (exts[i][1] == NULL) continue;
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
        assert_non_null(e);
        X509_add_ext(c, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(c, issuer ? issuer->key : x->key, EVP_sha256()) > 0);
    x->cert = c;
    x->der = NULL;
    int len = i2d_X509(c, &x->der);
    assert_true(len > 0);
    x->der_len = (size_t)len;
}

static void id_free(struct id *x) {
    EVP_PKEY_free(x->key);
    X509_free(x->cert);
    OPENSSL_free(x->der);
}

static int setup(void **state) {
    memset(&F, 0, sizeof(F));
    F.now = (int64_t)time(NULL);
    make(&F.root, NULL, "feed test root", 1, 1, 0);
    make(&F.inter, &F.root, "feed test intermediate", 2, 1, 0);
    make(&F.other, NULL, "feed test other root", 3, 1, 0);
    make(&F.twin, NULL, "feed test root", 4, 1, 0); /* the root's name, another key */
    make(&F.rsp, &F.root, "feed test responder", 5, 0, 1);
    make(&F.rsp_noeku, &F.root, "feed test responder without EKU", 6, 0, 0);
    make(&F.rsp_other, &F.other, "feed test other responder", 7, 0, 1);
    make(&F.rsp_twin, &F.twin, "feed test twin responder", 8, 0, 1);
    make(&F.leaf, &F.root, "feed test leaf", 0x7a3c5e, 0, 0);
    F.rsp_rsa.kind = KIND_RSA;
    make(&F.rsp_rsa, &F.root, "feed test RSA responder", 9, 0, 1);
    F.rsp_ed25519.kind = KIND_ED25519;
    make(&F.rsp_ed25519, &F.root, "feed test Ed25519 responder", 10, 0, 1);
    strcpy(F.dir, "/tmp/revd-test-feed-verify-XXXXXX");
    if (mkdtemp(F.dir) == NULL) return -1;
    snprintf(F.anchors, sizeof(F.anchors), "%s/anchors.pem", F.dir);
    FILE *f = fopen(F.anchors, "w");
    if (f == NULL || !PEM_write_X509(f, F.root.cert) || fclose(f) != 0) return -1;
    struct rerr e;
    F.a = feed_anchors_load(F.anchors, &e);
    if (F.a == NULL) return -1;
    F.t = feed_trust_new(F.a, F.root.der, F.root.der_len, &e);
    return F.t == NULL ? -1 : 0;
}

static int teardown(void **state) {
    feed_trust_free(F.t);
    feed_anchors_free(F.a);
    struct id *all[] = {&F.root, &F.inter, &F.other, &F.twin, &F.rsp, &F.rsp_noeku, &F.rsp_other, &F.rsp_twin,
                        &F.leaf, &F.rsp_rsa, &F.rsp_ed25519};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) id_free(all[i]);
    unlink(F.anchors);
    rmdir(F.dir);
    return 0;
}

static int sign_cb(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len) {
    struct id *x = arg;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t n = OCSP_SIG_MAX;
    int ok = EVP_DigestSignInit(c, NULL, x->kind == KIND_ED25519 ? NULL : EVP_sha256(), NULL, x->key) == 1 &&
             EVP_DigestSign(c, sig, &n, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(c);
    if (x->corrupt) sig[n / 2] ^= 0x01;
    *sig_len = n;
    return ok;
}

/* When set, the CertID's issuerNameHash is of this one's name (the key
 * hash stays ca's). */
static struct id *certid_name_of;

/* A response about SERIAL of ca's, in hash h, signed by who (its
 * certificate carried unless who is ca), num SingleResponses. */
static size_t response(struct id *ca, struct id *who, enum ocsp_hash h, size_t num, enum ocsp_cert_status st,
                       uint8_t *out, size_t cap) {
    struct ca_signer s;
    memset(&s, 0, sizeof(s));
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(who->cert);
    unsigned int n = 20;
    EVP_Digest(bits->data, (size_t)bits->length, s.key_hash, &n, EVP_sha1(), NULL);
    s.sigalg = who->kind == KIND_RSA ? SIGALG_RSA : who->kind == KIND_ED25519 ? SIGALG_ED25519 : SIGALG;
    s.sigalg_len = who->kind == KIND_RSA ? sizeof(SIGALG_RSA) : who->kind == KIND_ED25519 ? sizeof(SIGALG_ED25519) : sizeof(SIGALG);
    s.cert = who == ca ? NULL : who->der;
    s.cert_len = who == ca ? 0 : who->der_len;
    s.sign = sign_cb;
    s.arg = who;
    /* The CertID, its hashes by OpenSSL. */
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    ASN1_INTEGER_set(sn, 0x7a3c5e);
    OCSP_CERTID *cid = OCSP_cert_id_new(h == OCSP_HASH_SHA1 ? EVP_sha1() : EVP_sha256(),
                                        X509_get_subject_name(certid_name_of ? certid_name_of->cert : ca->cert),
                                        X509_get0_pubkey_bitstr(ca->cert), sn);
    ASN1_INTEGER_free(sn);
    ASN1_OCTET_STRING *nh, *kh;
    ASN1_INTEGER *serial;
    assert_int_equal(OCSP_id_get0_info(&nh, NULL, &kh, &serial, cid), 1);
    uint8_t certid[128];
    size_t certid_len;
    assert_true(ocsp_certid_build(h, nh->data, kh->data, serial->data, (size_t)serial->length, certid,
                                  sizeof(certid), &certid_len));
    OCSP_CERTID_free(cid);
    struct ocsp_single r[2];
    for (size_t i = 0; i < 2; i++) {
        r[i] = (struct ocsp_single){certid, certid_len, st, F.now - DAY, 1, F.now - 60, F.now + 4 * DAY};
    }
    size_t len = 0;
    assert_true(ocsp_response_sign_many(&s, r, num, F.now, NULL, 0, out, cap, &len));
    return len;
}

/* feed_verify_ocsp refuses der[0..len) with a message holding why. */
static void refused(const uint8_t *der, size_t len, int64_t now, const char *why) {
    struct feed_ocsp_info info;
    struct rerr e;
    e.msg[0] = '\0';
    assert_int_equal(feed_verify_ocsp(F.t, der, len, now, &info, &e), 0);
    if (strstr(e.msg, why) == NULL) fail_msg("expected '%s' in '%s'", why, e.msg);
}

/* ---- CA certificates ---------------------------------------------------- */

static void trust_refused(const struct feed_anchors *a, const uint8_t *der, size_t len, const char *why) {
    struct rerr e;
    e.msg[0] = '\0';
    assert_null(feed_trust_new(a, der, len, &e));
    if (strstr(e.msg, why) == NULL) fail_msg("expected '%s' in '%s'", why, e.msg);
}

static void test_trust(void **state) {
    struct rerr e;
    struct feed_trust *t = feed_trust_new(F.a, F.root.der, F.root.der_len, &e); /* an anchor */
    assert_non_null(t);
    feed_trust_free(t);
    t = feed_trust_new(F.a, F.inter.der, F.inter.der_len, &e); /* chains to one */
    assert_non_null(t);
    feed_trust_free(t);
    trust_refused(F.a, F.other.der, F.other.der_len, "does not chain to a trust anchor");
    trust_refused(F.a, F.twin.der, F.twin.der_len, "does not chain to a trust anchor");
    trust_refused(F.a, F.rsp.der, F.rsp.der_len, "not a CA");
    trust_refused(F.a, F.root.der, F.root.der_len - 1, "not DER X.509");
    uint8_t *more = malloc(F.root.der_len + 1);
    memcpy(more, F.root.der, F.root.der_len);
    more[F.root.der_len] = 0;
    trust_refused(F.a, more, F.root.der_len + 1, "trailing");
    free(more);
    trust_refused(F.a, F.root.der, 0, "octets");
    /* Anchors: a missing file, a file with no certificate. */
    char path[128];
    snprintf(path, sizeof(path), "%s/none.pem", F.dir);
    e.msg[0] = '\0';
    assert_null(feed_anchors_load(path, &e));
    assert_non_null(strstr(e.msg, "cannot read"));
    FILE *f = fopen(path, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    assert_null(feed_anchors_load(path, &e));
    assert_non_null(strstr(e.msg, "no certificate"));
    unlink(path);
    feed_anchors_free(NULL);
    feed_trust_free(NULL);
}

/* ---- OCSP ---------------------------------------------------------------- */

static void accepted(const uint8_t *der, size_t len, enum ocsp_hash h, enum ocsp_cert_status st) {
    struct feed_ocsp_info info;
    struct rerr e;
    e.msg[0] = '\0';
    if (!feed_verify_ocsp(F.t, der, len, F.now, &info, &e)) fail_msg("refused: %s", e.msg);
    assert_int_equal(info.hash, h);
    assert_int_equal(info.serial_len, sizeof(SERIAL));
    assert_memory_equal(info.serial, SERIAL, sizeof(SERIAL));
    assert_true(info.serial >= der && info.serial + info.serial_len <= der + len); /* a view */
    assert_int_equal(info.status, st);
    assert_int_equal(info.revoked_at, st == OCSP_REVOKED ? F.now - DAY : 0);
    assert_int_equal(info.reason, st == OCSP_REVOKED ? 1 : -1);
    assert_int_equal(info.produced_at, F.now);
    assert_int_equal(info.this_update, F.now - 60);
    assert_int_equal(info.next_update, F.now + 4 * DAY);
}

static void test_ocsp_good(void **state) {
    uint8_t buf[4096];
    enum ocsp_hash hashes[] = {OCSP_HASH_SHA1, OCSP_HASH_SHA256};
    enum ocsp_cert_status sts[] = {OCSP_GOOD, OCSP_REVOKED, OCSP_UNKNOWN};
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 3; j++) {
            size_t len = response(&F.root, &F.rsp, hashes[i], 1, sts[j], buf, sizeof(buf));
            accepted(buf, len, hashes[i], sts[j]);
            accepted(buf, len, hashes[i], sts[j]); /* its responder cached */
            len = response(&F.root, &F.root, hashes[i], 1, sts[j], buf, sizeof(buf)); /* by the CA itself */
            accepted(buf, len, hashes[i], sts[j]);
        }
    }
    /* Responders with RSA and Ed25519 keys. */
    size_t len = response(&F.root, &F.rsp_rsa, OCSP_HASH_SHA256, 1, OCSP_REVOKED, buf, sizeof(buf));
    accepted(buf, len, OCSP_HASH_SHA256, OCSP_REVOKED);
    len = response(&F.root, &F.rsp_ed25519, OCSP_HASH_SHA1, 1, OCSP_GOOD, buf, sizeof(buf));
    accepted(buf, len, OCSP_HASH_SHA1, OCSP_GOOD);
    /* A trust of the intermediate takes its responses, not the root's. */
    struct rerr e;
    struct feed_ocsp_info info;
    struct feed_trust *t = feed_trust_new(F.a, F.inter.der, F.inter.der_len, &e);
    assert_non_null(t);
    len = response(&F.inter, &F.inter, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf, sizeof(buf));
    assert_int_equal(feed_verify_ocsp(t, buf, len, F.now, &info, &e), 1);
    len = response(&F.root, &F.root, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf, sizeof(buf));
    assert_int_equal(feed_verify_ocsp(t, buf, len, F.now, &info, &e), 0);
    feed_trust_free(t);
}

static void test_ocsp_refused(void **state) {
    uint8_t buf[4096];
    size_t len;
    /* A flipped signature octet, by the responder and by the CA. */
    F.rsp.corrupt = F.root.corrupt = 1;
    len = response(&F.root, &F.rsp, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf, sizeof(buf));
    refused(buf, len, F.now, "signature does not verify");
    len = response(&F.root, &F.root, OCSP_HASH_SHA1, 1, OCSP_GOOD, buf, sizeof(buf));
    refused(buf, len, F.now, "signature does not verify");
    F.rsp.corrupt = F.root.corrupt = 0;
    /* Another CA's response. */
    len = response(&F.other, &F.rsp_other, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf, sizeof(buf));
    refused(buf, len, F.now, "another CA");
    len = response(&F.other, &F.other, OCSP_HASH_SHA1, 1, OCSP_GOOD, buf, sizeof(buf));
    refused(buf, len, F.now, "another CA");
    len = response(&F.twin, &F.rsp, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf, sizeof(buf)); /* key hash differs */
    refused(buf, len, F.now, "another CA");
    certid_name_of = &F.other; /* the root's key hash, another name hash */
    len = response(&F.root, &F.rsp, OCSP_HASH_SHA1, 1, OCSP_GOOD, buf, sizeof(buf));
    certid_name_of = NULL;
    refused(buf, len, F.now, "another CA");
    /* About the root's certificate, by responders the root did not issue. */
    len = response(&F.root, &F.rsp_other, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf, sizeof(buf));
    refused(buf, len, F.now, "not issued by the CA (issuer name differs)");
    len = response(&F.root, &F.rsp_twin, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf, sizeof(buf));
    refused(buf, len, F.now, "not issued by the CA (its signature does not verify)");
    len = response(&F.root, &F.twin, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf, sizeof(buf));
    refused(buf, len, F.now, "signature does not verify");
    len = response(&F.root, &F.rsp_noeku, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf, sizeof(buf));
    refused(buf, len, F.now, "OCSPSigning");
    /* A responder that is not valid then (checked once cached, too). */
    len = response(&F.root, &F.rsp, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf, sizeof(buf));
    refused(buf, len, F.now + 40 * DAY, "not valid");
    refused(buf, len, F.now - 2 * DAY, "not valid");
    /* Framing: every truncation, trailing octets, over the cap. */
    for (size_t n = 0; n < len; n++) refused(buf, n, F.now, "the response");
    buf[len] = 0x00;
    refused(buf, len + 1, F.now, "trailing");
    uint8_t *big = calloc(1, 70000);
    memcpy(big, buf, len);
    refused(big, 70000, F.now, "at most");
    free(big);
    /* Not successful; two SingleResponses. */
    len = ocsp_response_error(OCSP_TRY_LATER, buf);
    refused(buf, len, F.now, "not successful");
    len = response(&F.root, &F.rsp, OCSP_HASH_SHA256, 2, OCSP_GOOD, buf, sizeof(buf));
    refused(buf, len, F.now, "more than one SingleResponse");
}

/* More responders than the cache holds (64), twice round: each is
 * checked and remembered, the oldest evicted and, seen again, checked and
 * remembered again (under the sanitizers: no key freed while in use). */
static void test_ocsp_cache_bound(void **state) {
    enum { N = 70 };
    static struct id r[N];
    static uint8_t buf[N][4096];
    size_t len[N];
    for (int i = 0; i < N; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        make(&r[i], &F.root, "feed test responder of many", 100 + i, 0, 1);
        len[i] = response(&F.root, &r[i], OCSP_HASH_SHA256, 1, OCSP_GOOD, buf[i], sizeof(buf[i]));
    }
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) accepted(buf[i], len[i], OCSP_HASH_SHA256, OCSP_GOOD);
    for (int i = 0; i < N; i++) id_free(&r[i]);
}

/* Several threads on one trust (the cache's lock under the sanitizers). */
struct worker {
    const uint8_t *der;
    size_t len;
    int ok;
};

static void *work(void *arg) {
    struct worker *w = arg;
    struct feed_ocsp_info info;
    struct rerr e;
    w->ok = 1;
    for (int i = 0; i < 200; i++) w->ok &= feed_verify_ocsp(F.t, w->der, w->len, F.now, &info, &e);
    return NULL;
}

static void test_ocsp_threads(void **state) {
    uint8_t buf[4][4096];
    struct worker w[4];
    pthread_t th[4];
    struct id *who[4] = {&F.rsp, &F.root, &F.rsp, &F.root};
    for (int i = 0; i < 4; i++) {
        w[i].der = buf[i];
        w[i].len = response(&F.root, who[i], i % 2 ? OCSP_HASH_SHA1 : OCSP_HASH_SHA256, 1, OCSP_GOOD, buf[i],
                            sizeof(buf[i]));
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(w[i].ok);
    }
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Printed, not asserted: a response by a cached responder, and one by a
 * responder seen first (a fresh trust each time). */
static void test_ocsp_cost(void **state) {
    uint8_t buf[4096];
    size_t len = response(&F.root, &F.rsp, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf, sizeof(buf));
    struct feed_ocsp_info info;
    struct rerr e;
    const int n = 2000, m = 200;
    double t0 = now_us();
    for (int i = 0; i < n; i++) assert_int_equal(feed_verify_ocsp(F.t, buf, len, F.now, &info, &e), 1);
    double warm = (now_us() - t0) / n;
    t0 = now_us();
    for (int i = 0; i < m; i++) {
        struct feed_trust *t = feed_trust_new(F.a, F.root.der, F.root.der_len, &e);
        assert_int_equal(feed_verify_ocsp(t, buf, len, F.now, &info, &e), 1);
        feed_trust_free(t);
    }
    double cold = (now_us() - t0) / m;
    printf("feed_verify_ocsp, ECDSA P-256 responder: %.1f us per response (cached responder, %d runs); "
           "%.1f us for feed_trust_new + a first response (%d runs)\n",
           warm, n, cold, m);
}

/* ---- CRLs ---------------------------------------------------------------- */

static size_t crl(struct id *issuer_of, struct id *signer, uint8_t **out) {
    uint8_t *name = NULL;
    int name_len = i2d_X509_NAME(X509_get_subject_name(issuer_of->cert), &name);
    assert_true(name_len > 0);
    static const uint8_t s1[] = {0x12, 0x34};
    struct crl_entry entry = {s1, sizeof(s1), F.now - DAY, 1, 0};
    struct crl_params p;
    memset(&p, 0, sizeof(p));
    p.issuer = name;
    p.issuer_len = (size_t)name_len;
    p.this_update = F.now - 60;
    p.next_update = F.now + 7 * DAY;
    p.number = 42;
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(issuer_of->cert);
    p.aki = ASN1_STRING_get0_data(ski);
    p.aki_len = (size_t)ASN1_STRING_length(ski);
    p.scope = CRL_SCOPE_USER_CERTS;
    struct crl_signer s = {SIGALG, sizeof(SIGALG), sign_cb, signer};
    size_t len = 0;
    assert_int_equal(crl_build(&p, &entry, 1, &s, out, &len), 1);
    OPENSSL_free(name);
    return len;
}

static void crl_refused(const uint8_t *der, size_t len, const char *why) {
    struct feed_crl_info info;
    struct rerr e;
    e.msg[0] = '\0';
    assert_int_equal(feed_verify_crl(F.t, der, len, &info, &e), 0);
    if (strstr(e.msg, why) == NULL) fail_msg("expected '%s' in '%s'", why, e.msg);
}

static void test_crl(void **state) {
    uint8_t *der;
    struct feed_crl_info info;
    struct rerr e;
    size_t len = crl(&F.root, &F.root, &der);
    if (!feed_verify_crl(F.t, der, len, &info, &e)) fail_msg("refused: %s", e.msg);
    assert_int_equal(info.number, 42);
    assert_int_equal(info.this_update, F.now - 60);
    assert_int_equal(info.next_update, F.now + 7 * DAY);
    for (size_t n = 1; n < len; n += 7) crl_refused(der, n, "the CRL");
    uint8_t *more = malloc(len + 1);
    memcpy(more, der, len);
    more[len] = 0;
    crl_refused(more, len + 1, "trailing");
    free(more);
    free(der);
    len = crl(&F.other, &F.other, &der); /* another CA's */
    crl_refused(der, len, "issuer is not the CA");
    free(der);
    len = crl(&F.root, &F.twin, &der); /* the root's name, another key */
    crl_refused(der, len, "signature does not verify");
    free(der);
    F.root.corrupt = 1;
    len = crl(&F.root, &F.root, &der);
    F.root.corrupt = 0;
    crl_refused(der, len, "signature does not verify");
    free(der);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trust),       cmocka_unit_test(test_ocsp_good), cmocka_unit_test(test_ocsp_refused),
        cmocka_unit_test(test_ocsp_cache_bound), cmocka_unit_test(test_ocsp_threads), cmocka_unit_test(test_ocsp_cost), cmocka_unit_test(test_crl),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
