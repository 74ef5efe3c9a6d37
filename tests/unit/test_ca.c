/* Unit tests of the CA core through ca/ca.h (and the record codec and sizing
 * of ca/internal.h), on a throwaway DIR. EC P-256 keys only, to stay fast. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/cred.h"
#include "ca/internal.h"
#include "common/reason.h"
#include "common/rtime.h"
#include "common/urls.h"

/* ---- the certificate record ---------------------------------------------- */

static void test_crec_round_trip(void **state) {
    uint8_t der[300];
    for (size_t i = 0; i < sizeof(der); i++) der[i] = (uint8_t)(i * 13 + 1);
    struct crec r = {0};
    r.status = CERT_REVOKED;
    r.reason = REASON_CERTIFICATE_HOLD;
    r.flags = CREC_F_IMPORTED | CREC_F_INVALIDITY;
    r.partition = 0x80000001u;
    r.not_before = -631152000; /* negative times survive */
    r.not_after = 253402300799;
    r.revoked_at = 1714557600;
    r.invalidity = 1714500000;
    strcpy(r.template_name, "end-entity");
    r.der = der;
    r.der_len = sizeof(der);
    uint8_t *enc = NULL;
    size_t el = 0;
    assert_true(crec_encode(&r, &enc, &el));
    assert_int_equal(el, CREC_FIXED + 1 + strlen("end-entity") + 4 + sizeof(der));
    assert_int_equal(enc[0], 1); /* version */
    struct crec d;
    memset(&d, 0x77, sizeof(d));
    assert_true(crec_decode(enc, el, &d));
    assert_int_equal(d.status, CERT_REVOKED);
    assert_int_equal(d.reason, REASON_CERTIFICATE_HOLD);
    assert_int_equal(d.flags, CREC_F_IMPORTED | CREC_F_INVALIDITY);
    assert_int_equal(d.partition, 0x80000001u);
    assert_int_equal(d.not_before, -631152000);
    assert_int_equal(d.not_after, 253402300799);
    assert_int_equal(d.revoked_at, 1714557600);
    assert_int_equal(d.invalidity, 1714500000);
    assert_string_equal(d.template_name, "end-entity");
    assert_int_equal(d.der_len, sizeof(der));
    assert_ptr_equal(d.der, enc + el - sizeof(der)); /* a view into the record */
    assert_memory_equal(d.der, der, sizeof(der));
    free(enc);

    /* No DER, an empty template, the longest template. */
    struct crec e0 = {0};
    e0.partition = URLS_PART_CA;
    assert_true(crec_encode(&e0, &enc, &el));
    assert_int_equal(el, CREC_FIXED + 1 + 4);
    assert_true(crec_decode(enc, el, &d));
    assert_int_equal(d.der_len, 0);
    assert_null(d.der);
    assert_string_equal(d.template_name, "");
    assert_int_equal(d.partition, URLS_PART_CA);
    assert_int_equal(d.status, CERT_GOOD);
    free(enc);
    memset(e0.template_name, 't', 31);
    e0.template_name[31] = '\0';
    assert_true(crec_encode(&e0, &enc, &el));
    assert_true(crec_decode(enc, el, &d));
    assert_int_equal(strlen(d.template_name), 31);
    free(enc);
}

/* Decodes an exact-size copy, so that an over-read is caught under ASan. */
static int decode_copy(const uint8_t *p, size_t len, struct crec *out) {
    uint8_t *c = malloc(len ? len : 1);
    assert_non_null(c);
    memcpy(c, p, len);
    int ok = crec_decode(c, len, out);
    free(c);
    return ok;
}

static void test_crec_decode_refuses(void **state) {
    uint8_t der[40];
    memset(der, 0x30, sizeof(der));
    struct crec r = {0};
    r.status = CERT_GOOD;
    strcpy(r.template_name, "server");
    r.der = der;
    r.der_len = sizeof(der);
    uint8_t *enc;
    size_t el;
    assert_true(crec_encode(&r, &enc, &el));
    struct crec d;
    assert_true(decode_copy(enc, el, &d));
    /* Every truncation. */
    for (size_t n = 0; n < el; n++)
        if (decode_copy(enc, n, &d)) fail_msg("crec_decode accepted %zu of %zu bytes", n, el);
    /* Extra bytes. */
    uint8_t *more = malloc(el + 1);
    assert_non_null(more);
    memcpy(more, enc, el);
    more[el] = 0;
    assert_false(decode_copy(more, el + 1, &d));
    free(more);
    /* Each checked field out of range. */
    uint8_t *bad = malloc(el);
    assert_non_null(bad);
    struct {
        size_t off;
        uint8_t val;
    } pokes[] = {
        {0, 0},                      /* version 0 */
        {0, 2},                      /* version 2 */
        {1, 2},                      /* status beyond revoked */
        {2, 11},                     /* reason beyond aACompromise */
        {2, 0xff},
        {40, 32},                    /* template longer than the field */
        {40, 7},                     /* template length that does not match */
        {CREC_FIXED + 1 + 6 + 3, sizeof(der) + 1},  /* der_len one too many */
        {CREC_FIXED + 1 + 6 + 3, sizeof(der) - 1},  /* one too few */
        {CREC_FIXED + 1 + 6, 0x80},                 /* der_len huge */
    };
    for (size_t i = 0; i < sizeof(pokes) / sizeof(pokes[0]); i++) {
        memcpy(bad, enc, el);
        bad[pokes[i].off] = pokes[i].val;
        if (decode_copy(bad, el, &d))
            fail_msg("crec_decode accepted byte %zu = 0x%02x", pokes[i].off, pokes[i].val);
    }
    free(bad);
    free(enc);
}

/* ---- partition sizing ---------------------------------------------------- */

static void test_partition_size(void **state) {
    uint32_t p = partition_default_size(1000000, 60, 40, CA_KEY_EC_P256);
    if (p < 12000 || p > 13000) fail_msg("partition size %u for 1 MB, EC P-256", p);
    /* A larger cap holds more; a longer name or URL or signature, fewer. */
    uint32_t p2 = partition_default_size(2000000, 60, 40, CA_KEY_EC_P256);
    assert_true(p2 > p);
    assert_true(p2 >= 2 * p - 10 && p2 <= 2 * p + 10);
    assert_true(partition_default_size(1000000, 200, 40, CA_KEY_EC_P256) < p);
    assert_true(partition_default_size(1000000, 60, 200, CA_KEY_EC_P256) < p);
    assert_true(partition_default_size(1000000, 60, 40, CA_KEY_RSA_4096) < p);
    assert_true(partition_default_size(1000000, 60, 40, CA_KEY_RSA_4096) <
                partition_default_size(1000000, 60, 40, CA_KEY_RSA_2048));
    /* 78 octets a fully loaded entry: never more entries than that allows. */
    assert_true((uint64_t)p * 78 <= 1000000);
    /* A tiny cap still gives one. */
    assert_int_equal(partition_default_size(100, 60, 40, CA_KEY_EC_P256), 1);
    assert_true(partition_default_size(4096, 60, 40, CA_KEY_EC_P256) >= 1);
    assert_true(partition_default_size(4096, 60, 40, CA_KEY_EC_P256) <= 4096 / 78);
}

/* ---- the CA core on a temporary DIR --------------------------------------- */

struct fx {
    char dir[64];
    char revd[128];
    struct ca_core *c;
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    return remove(p);
}

static struct ca_create_params root_params(const char *name) {
    struct ca_create_params p = {0};
    p.name = name;
    p.subject = "/CN=Test Root/O=revd tests";
    p.key = CA_KEY_EC_P256;
    p.path_len = -1;
    return p;
}

static int setup(void **state) {
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    strcpy(f->dir, "/tmp/revd-test-ca-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    snprintf(f->revd, sizeof(f->revd), "%s/revd", f->dir);
    struct rerr e = {{0}};
    if (!ca_core_open(f->revd, 1, &f->c, &e)) {
        fprintf(stderr, "ca_core_open: %s\n", e.msg);
        return -1;
    }
    struct ca_create_params p = root_params("root");
    if (!ca_create(f->c, &p, &e)) {
        fprintf(stderr, "ca_create root: %s\n", e.msg);
        return -1;
    }
    p.name = "sub";
    p.parent = "root";
    p.subject = "/CN=Test Sub/O=revd tests";
    if (!ca_create(f->c, &p, &e)) {
        fprintf(stderr, "ca_create sub: %s\n", e.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fx *f = *state;
    ca_core_free(f->c);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A CSR for a fresh P-256 key, as PEM (malloc'd, NUL-terminated). san is an
 * OpenSSL config value ("DNS:a,DNS:b") or NULL. */
static char *make_csr(const char *cn, const char *san, size_t *out_len) {
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    X509_REQ *req = X509_REQ_new();
    assert_non_null(req);
    assert_true(X509_REQ_set_version(req, 0));
    X509_NAME *n = X509_NAME_new();
    assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
    assert_true(X509_REQ_set_subject_name(req, n));
    X509_NAME_free(n);
    assert_true(X509_REQ_set_pubkey(req, k));
    if (san != NULL) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, NULL, NID_subject_alt_name, san);
        assert_non_null(ext);
        sk_X509_EXTENSION_push(exts, ext);
        assert_true(X509_REQ_add_extensions(req, exts));
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_true(PEM_write_bio_X509_REQ(bio, req));
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *out = malloc((size_t)len + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    *out_len = (size_t)len;
    BIO_free(bio);
    X509_REQ_free(req);
    EVP_PKEY_free(k);
    return out;
}

static X509 *pem_cert(const char *pem) {
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return x;
}

static X509 *file_cert(const char *path) {
    FILE *fp = fopen(path, "r");
    if (fp == NULL) return NULL;
    X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    return x;
}

struct issued {
    char *pem;
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t serial_len;
};

/* Issues an end-entity certificate from sub (or ca) and returns its serial. */
static void issue(struct fx *f, const char *ca, const char *cn, const char *san, struct issued *out) {
    size_t cl;
    char *csr = make_csr(cn, san, &cl);
    struct ca_issue_params ip = {0};
    ip.ca = ca;
    ip.csr = (const uint8_t *)csr;
    ip.csr_len = cl;
    ip.path_len = -1;
    struct rerr e = {{0}};
    out->pem = NULL;
    if (!ca_issue(f->c, &ip, &out->pem, &e)) fail_msg("ca_issue: %s", e.msg);
    free(csr);
    X509 *x = pem_cert(out->pem);
    assert_non_null(x);
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    assert_true(sn->length > 0 && (size_t)sn->length <= sizeof(out->serial));
    memcpy(out->serial, sn->data, (size_t)sn->length);
    out->serial_len = (size_t)sn->length;
    X509_free(x);
}

static void status_of(struct fx *f, const char *ca, const uint8_t *s, size_t sl, struct ca_cert_status *st) {
    struct rerr e = {{0}};
    if (!ca_status(f->c, ca, s, sl, st, &e)) fail_msg("ca_status: %s", e.msg);
}

static void test_create_root_sub(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    assert_int_equal(ca_count(f->c), 2);
    struct ca_info ri, si;
    ca_info_at(f->c, 0, &ri);
    ca_info_at(f->c, 1, &si);
    assert_string_equal(ri.name, "root");
    assert_string_equal(ri.parent, "");
    assert_int_equal(ri.depth, 1);
    assert_int_equal(ri.path_len, -1);
    assert_int_equal(ri.state, CA_STATE_ACTIVE);
    assert_int_equal(ri.key, CA_KEY_EC_P256);
    assert_string_equal(ri.base_url, "http://127.0.0.1:8080");
    assert_int_equal(ri.issued, 1); /* the sub's certificate */
    assert_string_equal(si.name, "sub");
    assert_string_equal(si.parent, "root");
    assert_int_equal(si.depth, 2);
    assert_int_equal(si.path_len, 0);
    assert_int_equal(si.state, CA_STATE_ACTIVE);
    assert_int_equal(si.issued, 0);
    assert_int_equal(si.crl_max_bytes, CA_DEFAULT_CRL_MAX_BYTES);
    assert_true(si.partition_size > 10000 && si.partition_size < 13000);
    assert_true(si.not_after <= ri.not_after);
    assert_true(si.not_after > rtime_now() + 1800 * 86400LL);
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    assert_false(ca_info_get(f->c, "nope", &si, &e));
    assert_non_null(strstr(e.msg, "no CA named 'nope'"));

    /* The files: keys 0600, certificates that chain. */
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/keys/root.key", f->revd);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof(path), "%s/keys/sub.key", f->revd);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    X509 *root = file_cert(ri.cert_path);
    X509 *sub = file_cert(si.cert_path);
    assert_non_null(root);
    assert_non_null(sub);
    assert_int_equal(X509_verify(root, X509_get0_pubkey(root)), 1);
    assert_int_equal(X509_verify(sub, X509_get0_pubkey(root)), 1);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(sub), X509_get_subject_name(root)), 0);
    assert_int_equal(X509_check_ca(sub), 1);
    X509_free(root);
    X509_free(sub);

    /* What may not be created. */
    struct ca_create_params p = root_params("root");
    assert_false(ca_create(f->c, &p, &e));
    assert_non_null(strstr(e.msg, "already exists"));
    p = root_params("Bad Name");
    assert_false(ca_create(f->c, &p, &e));
    p = root_params("leaf-ca");
    p.parent = "sub"; /* path length 0 */
    assert_false(ca_create(f->c, &p, &e));
    assert_non_null(strstr(e.msg, "path length 0"));
    p.parent = "missing";
    assert_false(ca_create(f->c, &p, &e));
    assert_non_null(strstr(e.msg, "no CA named"));
    p = root_params("badurl");
    p.base_url = "ftp://x";
    assert_false(ca_create(f->c, &p, &e));
    assert_int_equal(ca_count(f->c), 2);
}

static int count_certs(const char *pem) {
    int n = 0;
    for (const char *s = pem; (s = strstr(s, "-----BEGIN CERTIFICATE-----")) != NULL; s++) n++;
    return n;
}

static void test_issue(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    int64_t before = rtime_now();
    struct issued a;
    issue(f, "sub", "leaf.example", "DNS:leaf.example,DNS:www.leaf.example", &a);
    int64_t after = rtime_now();
    assert_int_equal(count_certs(a.pem), 1);
    X509 *x = pem_cert(a.pem);
    assert_non_null(x);
    /* 16 random octets, positive. */
    assert_int_equal(a.serial_len, 16);
    assert_int_equal(a.serial[0] & 0x80, 0);
    /* Signed by sub. */
    struct ca_info si;
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    X509 *sub = file_cert(si.cert_path);
    assert_non_null(sub);
    assert_int_equal(X509_verify(x, X509_get0_pubkey(sub)), 1);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(sub)), 0);
    assert_int_equal(X509_check_ca(x), 0);
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "leaf.example");
    /* 90 days by default. */
    int days = 0, secs = 0;
    assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)));
    assert_int_equal(days, 90);
    assert_int_equal(secs, 0);
    /* The CSR's SAN, and the CDP of partition 0. */
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(gens);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 2);
    GENERAL_NAMES_free(gens);
    CRL_DIST_POINTS *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
    assert_non_null(dps);
    DIST_POINT *dp = sk_DIST_POINT_value(dps, 0);
    GENERAL_NAME *uri = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0);
    assert_int_equal(uri->type, GEN_URI);
    assert_string_equal((const char *)ASN1_STRING_get0_data(uri->d.uniformResourceIdentifier),
                        "http://127.0.0.1:8080/crl/sub/0.crl");
    CRL_DIST_POINTS_free(dps);
    X509_free(x);
    X509_free(sub);

    struct ca_cert_status st;
    status_of(f, "sub", a.serial, a.serial_len, &st);
    assert_int_equal(st.found, 1);
    assert_int_equal(st.status, CERT_GOOD);
    assert_int_equal(st.partition, 0);
    assert_int_equal(st.revoked_at, 0);
    assert_true(st.not_before >= before && st.not_before <= after);
    assert_int_equal(st.not_after - st.not_before, 90 * 86400);
    assert_string_equal(st.crl_url, "http://127.0.0.1:8080/crl/sub/0.crl");
    /* Another CA never issued it. */
    status_of(f, "root", a.serial, a.serial_len, &st);
    assert_int_equal(st.found, 0);
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    assert_int_equal(si.issued, 1);
    free(a.pem);

    /* With the chain: the leaf and sub, not the root. */
    size_t cl;
    char *csr = make_csr("chain.example", NULL, &cl);
    struct ca_issue_params ip = {.ca = "sub", .csr = (const uint8_t *)csr, .csr_len = cl,
                                 .path_len = -1, .with_chain = 1};
    char *pem = NULL;
    assert_true(ca_issue(f->c, &ip, &pem, &e));
    assert_int_equal(count_certs(pem), 2);
    free(pem);
    /* What is refused. */
    ip.with_chain = 0;
    ip.template_name = "no-such-template";
    assert_false(ca_issue(f->c, &ip, &pem, &e));
    assert_non_null(strstr(e.msg, "no template named"));
    ip.template_name = NULL;
    ip.ca = "missing";
    assert_false(ca_issue(f->c, &ip, &pem, &e));
    ip.ca = "sub";
    ip.csr = (const uint8_t *)"not a CSR at all";
    ip.csr_len = 16;
    assert_false(ca_issue(f->c, &ip, &pem, &e));
    assert_non_null(strstr(e.msg, "not a certificate signing request"));
    ip.csr = (const uint8_t *)csr;
    ip.csr_len = cl;
    ip.validity = 4000 * 86400LL; /* past the CA */
    assert_false(ca_issue(f->c, &ip, &pem, &e));
    assert_non_null(strstr(e.msg, "outlive"));
    free(csr);
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    assert_int_equal(si.issued, 2);
}

static void test_revoke_unhold_status(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    struct ca_cert_status st;
    struct ca_info si;
    struct issued a, b;
    issue(f, "sub", "a.example", NULL, &a);
    issue(f, "sub", "b.example", NULL, &b);

    /* hold -> unhold -> good. */
    int64_t t0 = rtime_now();
    assert_true(ca_revoke(f->c, "sub", a.serial, a.serial_len, REASON_CERTIFICATE_HOLD, 0, &e));
    status_of(f, "sub", a.serial, a.serial_len, &st);
    assert_int_equal(st.found, 1);
    assert_int_equal(st.status, CERT_REVOKED);
    assert_int_equal(st.reason, REASON_CERTIFICATE_HOLD);
    assert_true(st.revoked_at >= t0 && st.revoked_at <= rtime_now());
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    assert_int_equal(si.held, 1);
    assert_int_equal(si.revoked, 0);
    /* A hold is not put on hold twice. */
    assert_false(ca_revoke(f->c, "sub", a.serial, a.serial_len, REASON_CERTIFICATE_HOLD, 0, &e));
    assert_non_null(strstr(e.msg, "already on hold"));
    assert_true(ca_unhold(f->c, "sub", a.serial, a.serial_len, &e));
    status_of(f, "sub", a.serial, a.serial_len, &st);
    assert_int_equal(st.found, 1);
    assert_int_equal(st.status, CERT_GOOD);
    assert_int_equal(st.reason, 0);
    assert_int_equal(st.revoked_at, 0);
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    assert_int_equal(si.held, 0);
    /* Unhold of a good certificate is refused. */
    assert_false(ca_unhold(f->c, "sub", a.serial, a.serial_len, &e));
    assert_non_null(strstr(e.msg, "not on hold"));

    /* keyCompromise is final. */
    int64_t inval = rtime_now() - 3600;
    assert_true(ca_revoke(f->c, "sub", a.serial, a.serial_len, REASON_KEY_COMPROMISE, inval, &e));
    status_of(f, "sub", a.serial, a.serial_len, &st);
    assert_int_equal(st.status, CERT_REVOKED);
    assert_int_equal(st.reason, REASON_KEY_COMPROMISE);
    assert_int_equal(st.invalidity, inval);
    int64_t revoked_at = st.revoked_at;
    assert_true(revoked_at >= t0);
    assert_false(ca_unhold(f->c, "sub", a.serial, a.serial_len, &e));
    assert_non_null(strstr(e.msg, "only certificateHold can be released"));
    /* Revoking twice is refused, for any reason, and changes nothing. */
    assert_false(ca_revoke(f->c, "sub", a.serial, a.serial_len, REASON_SUPERSEDED, 0, &e));
    assert_non_null(strstr(e.msg, "already revoked"));
    assert_false(ca_revoke(f->c, "sub", a.serial, a.serial_len, REASON_KEY_COMPROMISE, 0, &e));
    assert_false(ca_revoke(f->c, "sub", a.serial, a.serial_len, REASON_CERTIFICATE_HOLD, 0, &e));
    status_of(f, "sub", a.serial, a.serial_len, &st);
    assert_int_equal(st.reason, REASON_KEY_COMPROMISE);
    assert_int_equal(st.revoked_at, revoked_at);
    assert_int_equal(st.invalidity, inval);
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    assert_int_equal(si.revoked, 1);
    assert_int_equal(si.held, 0);

    /* A hold made final keeps its revocation time. */
    assert_true(ca_revoke(f->c, "sub", b.serial, b.serial_len, REASON_CERTIFICATE_HOLD, 0, &e));
    status_of(f, "sub", b.serial, b.serial_len, &st);
    int64_t held_at = st.revoked_at;
    assert_true(ca_revoke(f->c, "sub", b.serial, b.serial_len, REASON_CESSATION_OF_OPERATION, 0, &e));
    status_of(f, "sub", b.serial, b.serial_len, &st);
    assert_int_equal(st.status, CERT_REVOKED);
    assert_int_equal(st.reason, REASON_CESSATION_OF_OPERATION);
    assert_int_equal(st.revoked_at, held_at);
    assert_int_equal(st.invalidity, 0);
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    assert_int_equal(si.revoked, 2);
    assert_int_equal(si.held, 0);

    /* Reasons that are not revocation reasons; a future invalidity date. */
    struct issued c;
    issue(f, "sub", "c.example", NULL, &c);
    assert_false(ca_revoke(f->c, "sub", c.serial, c.serial_len, 7, 0, &e));
    assert_false(ca_revoke(f->c, "sub", c.serial, c.serial_len, REASON_REMOVE_FROM_CRL, 0, &e));
    assert_false(ca_revoke(f->c, "sub", c.serial, c.serial_len, 11, 0, &e));
    assert_false(ca_revoke(f->c, "sub", c.serial, c.serial_len, -1, 0, &e));
    assert_false(ca_revoke(f->c, "sub", c.serial, c.serial_len, REASON_KEY_COMPROMISE, rtime_now() + 86400, &e));
    assert_non_null(strstr(e.msg, "in the future"));
    status_of(f, "sub", c.serial, c.serial_len, &st);
    assert_int_equal(st.status, CERT_GOOD);

    /* An unknown serial: found=0 for status, an error for the others. */
    static const uint8_t unknown[] = {0x12, 0x34};
    memset(&st, 0x55, sizeof(st));
    status_of(f, "sub", unknown, sizeof(unknown), &st);
    assert_int_equal(st.found, 0);
    assert_false(ca_revoke(f->c, "sub", unknown, sizeof(unknown), REASON_KEY_COMPROMISE, 0, &e));
    assert_non_null(strstr(e.msg, "no certificate with serial 1234"));
    assert_false(ca_unhold(f->c, "sub", unknown, sizeof(unknown), &e));
    assert_false(ca_status(f->c, "missing", unknown, sizeof(unknown), &st, &e));
    free(a.pem);
    free(b.pem);
    free(c.pem);
}

static void test_idempotency(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    size_t cl, cl2;
    char *csr = make_csr("idem.example", NULL, &cl);
    char *csr2 = make_csr("other.example", NULL, &cl2);
    struct ca_issue_params ip = {.ca = "sub", .csr = (const uint8_t *)csr, .csr_len = cl,
                                 .path_len = -1, .idempotency_key = "order-42"};
    char *p1 = NULL, *p2 = NULL, *p3 = NULL;
    assert_true(ca_issue(f->c, &ip, &p1, &e));
    assert_true(ca_issue(f->c, &ip, &p2, &e));
    assert_string_equal(p1, p2);
    struct ca_info si;
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    assert_int_equal(si.issued, 1);
    /* The same key with another CSR. */
    ip.csr = (const uint8_t *)csr2;
    ip.csr_len = cl2;
    e.msg[0] = '\0';
    assert_false(ca_issue(f->c, &ip, &p3, &e));
    assert_null(p3);
    assert_non_null(strstr(e.msg, "different request"));
    /* ... or the same CSR with other parameters. */
    ip.csr = (const uint8_t *)csr;
    ip.csr_len = cl;
    ip.validity = 86400;
    assert_false(ca_issue(f->c, &ip, &p3, &e));
    assert_non_null(strstr(e.msg, "different request"));
    /* Another key is another certificate. */
    ip.validity = 0;
    ip.idempotency_key = "order-43";
    assert_true(ca_issue(f->c, &ip, &p3, &e));
    assert_string_not_equal(p1, p3);
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    assert_int_equal(si.issued, 2);
    /* Keys are per CA: the same key on another CA is another certificate. */
    char *p5 = NULL;
    ip.ca = "root";
    ip.idempotency_key = "order-42";
    assert_true(ca_issue(f->c, &ip, &p5, &e));
    assert_string_not_equal(p5, p1);
    free(p5);
    ip.ca = "sub";
    /* Keys have a length limit. */
    char *p4 = NULL;
    ip.idempotency_key = "";
    assert_false(ca_issue(f->c, &ip, &p4, &e));
    char longkey[200];
    memset(longkey, 'k', 129);
    longkey[129] = '\0';
    ip.idempotency_key = longkey;
    assert_false(ca_issue(f->c, &ip, &p4, &e));
    longkey[128] = '\0';
    assert_true(ca_issue(f->c, &ip, &p4, &e));
    free(p4);
    p4 = NULL;
    assert_true(ca_issue(f->c, &ip, &p4, &e));
    free(p4);
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    assert_int_equal(si.issued, 3);
    free(p1);
    free(p2);
    free(p3);
    free(csr);
    free(csr2);
}

struct rows {
    size_t n;
    int stop_after; /* 0: never */
    struct {
        uint8_t serial[HEX_SERIAL_MAX + 1];
        size_t serial_len;
        char subject[128], sans[256], template_name[32];
        int64_t not_before, not_after, revoked_at;
        int revoked, reason;
        uint32_t partition;
    } r[64];
};

static int collect(void *arg, const struct ca_report_row *row) {
    struct rows *rs = arg;
    if (rs->n < 64) {
        assert_true(row->serial_len <= HEX_SERIAL_MAX + 1);
        memcpy(rs->r[rs->n].serial, row->serial, row->serial_len);
        rs->r[rs->n].serial_len = row->serial_len;
        snprintf(rs->r[rs->n].subject, sizeof(rs->r[0].subject), "%s", row->subject);
        snprintf(rs->r[rs->n].sans, sizeof(rs->r[0].sans), "%s", row->sans);
        snprintf(rs->r[rs->n].template_name, sizeof(rs->r[0].template_name), "%s", row->template_name);
        rs->r[rs->n].not_before = row->not_before;
        rs->r[rs->n].not_after = row->not_after;
        rs->r[rs->n].revoked_at = row->revoked_at;
        rs->r[rs->n].revoked = row->revoked;
        rs->r[rs->n].reason = row->reason;
        rs->r[rs->n].partition = row->partition;
    }
    rs->n++;
    return rs->stop_after == 0 || rs->n < (size_t)rs->stop_after;
}

static size_t report_count(struct fx *f, const char *ca) {
    struct rows *rs = calloc(1, sizeof(*rs));
    assert_non_null(rs);
    struct rerr e = {{0}};
    if (!ca_report(f->c, ca, 0, collect, rs, &e)) fail_msg("ca_report: %s", e.msg);
    size_t n = rs->n;
    free(rs);
    return n;
}

/* Serial order: by length, then by bytes (the index key order). */
static int serial_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    if (al != bl) return al < bl ? -1 : 1;
    return memcmp(a, b, al);
}

static void test_report(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    struct issued c[3];
    issue(f, "sub", "r0.example", "DNS:r0.example,IP:192.0.2.7", &c[0]);
    issue(f, "sub", "r1.example", "DNS:r1.example", &c[1]);
    issue(f, "sub", "r2.example", NULL, &c[2]);
    assert_true(ca_revoke(f->c, "sub", c[1].serial, c[1].serial_len, REASON_KEY_COMPROMISE, 0, &e));
    struct rows *rs = calloc(1, sizeof(*rs));
    assert_non_null(rs);
    assert_true(ca_report(f->c, "sub", 0, collect, rs, &e));
    assert_int_equal(rs->n, 3);
    for (size_t i = 1; i < rs->n; i++)
        assert_true(serial_cmp(rs->r[i - 1].serial, rs->r[i - 1].serial_len, rs->r[i].serial,
                               rs->r[i].serial_len) < 0);
    int seen[3] = {0};
    for (size_t i = 0; i < rs->n; i++) {
        int which = -1;
        for (int j = 0; j < 3; j++)
            if (serial_cmp(rs->r[i].serial, rs->r[i].serial_len, c[j].serial, c[j].serial_len) == 0) which = j;
        assert_true(which >= 0);
        seen[which]++;
        assert_string_equal(rs->r[i].template_name, "end-entity");
        assert_int_equal(rs->r[i].partition, 0);
        assert_int_equal(rs->r[i].not_after - rs->r[i].not_before, 90 * 86400);
        char want_cn[64];
        snprintf(want_cn, sizeof(want_cn), "CN=r%d.example", which);
        assert_non_null(strstr(rs->r[i].subject, want_cn));
        if (which == 0) assert_string_equal(rs->r[i].sans, "DNS:r0.example;IP:192.0.2.7");
        if (which == 1) assert_string_equal(rs->r[i].sans, "DNS:r1.example");
        if (which == 2) assert_string_equal(rs->r[i].sans, "");
        if (which == 1) {
            assert_int_equal(rs->r[i].revoked, 1);
            assert_int_equal(rs->r[i].reason, REASON_KEY_COMPROMISE);
            assert_true(rs->r[i].revoked_at > 0);
        } else {
            assert_int_equal(rs->r[i].revoked, 0);
            assert_int_equal(rs->r[i].revoked_at, 0);
        }
    }
    assert_int_equal(seen[0] + seen[1] + seen[2], 3);
    assert_int_equal(seen[0] * seen[1] * seen[2], 1);

    /* The callback stops it. */
    memset(rs, 0, sizeof(*rs));
    rs->stop_after = 1;
    assert_true(ca_report(f->c, "sub", 0, collect, rs, &e));
    assert_int_equal(rs->n, 1);
    /* since: nothing issued or revoked after tomorrow. */
    memset(rs, 0, sizeof(*rs));
    assert_true(ca_report(f->c, "sub", rtime_now() + 86400, collect, rs, &e));
    assert_int_equal(rs->n, 0);
    /* The root's report holds the sub's certificate, in the CA scope. */
    memset(rs, 0, sizeof(*rs));
    assert_true(ca_report(f->c, "root", 0, collect, rs, &e));
    assert_int_equal(rs->n, 1);
    assert_string_equal(rs->r[0].template_name, "sub-ca");
    assert_int_equal(rs->r[0].partition, URLS_PART_CA);
    assert_non_null(strstr(rs->r[0].subject, "CN=Test Sub"));
    assert_false(ca_report(f->c, "missing", 0, collect, rs, &e));
    free(rs);
    for (int i = 0; i < 3; i++) free(c[i].pem);
}

static void write_file(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void serial_of(const char *hex, uint8_t s[HEX_SERIAL_MAX + 1], size_t *sl) {
    if (!hex_parse_serial(hex, s, sl)) fail_msg("bad serial in the test: %s", hex);
}

static void imported_status(struct fx *f, const char *ca, const char *hex, struct ca_cert_status *st) {
    uint8_t s[HEX_SERIAL_MAX + 1];
    size_t sl;
    serial_of(hex, s, &sl);
    status_of(f, ca, s, sl, st);
}

static void create_legacy(struct fx *f) {
    struct rerr e = {{0}};
    struct ca_create_params p = root_params("legacy");
    p.subject = "/CN=Legacy/O=revd tests";
    p.base_url = "https://PKI.Example.com/revd/";
    if (!ca_create(f->c, &p, &e)) fail_msg("ca_create legacy: %s", e.msg);
}

static const char inventory[] =
    "serial,not_after,status,revocation_time,reason,cdp\n"
    "0a01,2030-01-01T00:00:00Z,good\r\n"
    "0a02,2030-01-01T00:00:00Z,revoked,2024-05-01T10:00:00Z,keyCompromise\n"
    "\n"
    "0a03,2030-01-01,hold,2024-05-01T10:00:00Z\n"
    "0a04,2030-01-01,revoked,2024-05-01T10:00:00Z,superseded,http://old.example/crl/7.crl\n"
    "ff:01,2031-06-30T12:00:00Z,good,,,http://old.example/crl/7.crl\n"
    "0a06,2030-01-01,revoked,2024-05-01,,http://old.example/crl/8.crl\n"
    "0a07,2030-01-01,good";

static void test_import(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    create_legacy(f);
    char path[256];
    snprintf(path, sizeof(path), "%s/inventory.csv", f->dir);
    write_file(path, inventory);
    struct ca_import_result res;
    if (!ca_import_csv(f->c, "legacy", path, 0, NULL, &res, &e)) fail_msg("ca_import_csv: %s", e.msg);
    assert_int_equal(res.rows, 7);
    assert_int_equal(res.revoked, 4);
    struct ca_info li;
    assert_true(ca_info_get(f->c, "legacy", &li, &e));
    assert_int_equal(li.imported, 7);
    assert_int_equal(li.revoked, 3);
    assert_int_equal(li.held, 1);
    assert_int_equal(li.issued, 0);

    struct ca_cert_status st;
    imported_status(f, "legacy", "0a01", &st);
    assert_int_equal(st.found, 1);
    assert_int_equal(st.status, CERT_GOOD);
    assert_int_equal(st.not_after, 1893456000);
    assert_true(st.partition < URLS_PART_EXTERNAL);
    assert_string_equal(st.crl_url, "https://pki.example.com/revd/crl/legacy/0.crl");
    imported_status(f, "legacy", "0a02", &st);
    assert_int_equal(st.found, 1);
    assert_int_equal(st.status, CERT_REVOKED);
    assert_int_equal(st.reason, REASON_KEY_COMPROMISE);
    assert_int_equal(st.revoked_at, 1714557600);
    imported_status(f, "legacy", "0a03", &st);
    assert_int_equal(st.status, CERT_REVOKED);
    assert_int_equal(st.reason, REASON_CERTIFICATE_HOLD);
    /* Imported CDPs keep their URL, byte for byte, in an external partition
     * shared by the rows that name the same URL. */
    imported_status(f, "legacy", "0a04", &st);
    assert_int_equal(st.status, CERT_REVOKED);
    assert_int_equal(st.reason, REASON_SUPERSEDED);
    assert_true(st.partition >= URLS_PART_EXTERNAL);
    assert_string_equal(st.crl_url, "http://old.example/crl/7.crl");
    uint32_t part7 = st.partition;
    imported_status(f, "legacy", "00ff01", &st); /* ff:01 is stored with its 0x00 */
    assert_int_equal(st.found, 1);
    assert_int_equal(st.status, CERT_GOOD);
    assert_int_equal(st.not_after, 1940587200);
    assert_int_equal(st.partition, part7);
    assert_string_equal(st.crl_url, "http://old.example/crl/7.crl");
    imported_status(f, "legacy", "0a06", &st);
    assert_int_equal(st.reason, REASON_UNSPECIFIED);
    assert_int_equal(st.revoked_at, 1714521600);
    assert_true(st.partition >= URLS_PART_EXTERNAL && st.partition != part7);
    assert_string_equal(st.crl_url, "http://old.example/crl/8.crl");
    imported_status(f, "legacy", "0a07", &st);
    assert_int_equal(st.status, CERT_GOOD);
    imported_status(f, "legacy", "0a05", &st);
    assert_int_equal(st.found, 0);

    /* The report: the imported rows, no subject, template "import". */
    struct rows *rs = calloc(1, sizeof(*rs));
    assert_non_null(rs);
    assert_true(ca_report(f->c, "legacy", 0, collect, rs, &e));
    assert_int_equal(rs->n, 7);
    for (size_t i = 0; i < rs->n; i++) {
        assert_string_equal(rs->r[i].template_name, "import");
        assert_string_equal(rs->r[i].subject, "");
    }
    free(rs);

    /* An imported certificate can be revoked and released like any other. */
    uint8_t s[HEX_SERIAL_MAX + 1];
    size_t sl;
    serial_of("0a01", s, &sl);
    assert_true(ca_revoke(f->c, "legacy", s, sl, REASON_AFFILIATION_CHANGED, 0, &e));
    status_of(f, "legacy", s, sl, &st);
    assert_int_equal(st.reason, REASON_AFFILIATION_CHANGED);
    serial_of("0a03", s, &sl);
    assert_true(ca_unhold(f->c, "legacy", s, sl, &e));
    status_of(f, "legacy", s, sl, &st);
    assert_int_equal(st.status, CERT_GOOD);
    /* Not in the sub's space. */
    imported_status(f, "sub", "0a01", &st);
    assert_int_equal(st.found, 0);
}

/* Imports path into legacy, expecting a refusal that mentions want, and
 * checks that the CA is as it was. */
static void import_refused(struct fx *f, const char *path, const char *want, size_t rows_before) {
    struct rerr e = {{0}};
    struct ca_info before, after;
    assert_true(ca_info_get(f->c, "legacy", &before, &e));
    uint64_t imported = before.imported, revoked = before.revoked, held = before.held;
    struct ca_import_result res;
    if (ca_import_csv(f->c, "legacy", path, 0, NULL, &res, &e)) fail_msg("the import of %s succeeded", path);
    if (strstr(e.msg, want) == NULL) fail_msg("the import said '%s'; expected '%s'", e.msg, want);
    assert_int_equal(res.rows, 0);
    assert_int_equal(report_count(f, "legacy"), rows_before);
    assert_true(ca_info_get(f->c, "legacy", &after, &e));
    assert_int_equal(after.imported, imported);
    assert_int_equal(after.revoked, revoked);
    assert_int_equal(after.held, held);
}

static void test_import_failure_changes_nothing(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    create_legacy(f);
    char path[256];
    snprintf(path, sizeof(path), "%s/inventory.csv", f->dir);
    write_file(path, inventory);
    struct ca_import_result res;
    assert_true(ca_import_csv(f->c, "legacy", path, 0, NULL, &res, &e));
    assert_int_equal(report_count(f, "legacy"), 7);

    /* Good rows, then a bad line at the end. */
    snprintf(path, sizeof(path), "%s/bad-end.csv", f->dir);
    write_file(path,
               "serial,not_after,status\n"
               "0b01,2030-01-01,good\n"
               "0b02,2030-01-01,revoked,2024-05-01,keyCompromise\n"
               "0b03,2030-01-01,good,,,http://new.example/crl/1.crl\n"
               "0b04,2030-02-30,good\n");
    import_refused(f, path, ":5:", 7);
    import_refused(f, path, "nothing was imported", 7);
    struct ca_cert_status st;
    const char *news[] = {"0b01", "0b02", "0b03", "0b04"};
    for (int i = 0; i < 4; i++) {
        imported_status(f, "legacy", news[i], &st);
        assert_int_equal(st.found, 0);
    }
    /* A serial twice in the file. */
    snprintf(path, sizeof(path), "%s/dup.csv", f->dir);
    write_file(path, "0c01,2030-01-01,good\n0c02,2030-01-01,good\n0x0C01,2030-01-01,good\n");
    import_refused(f, path, "nothing was imported", 7);
    import_refused(f, path, "0C01", 7);
    imported_status(f, "legacy", "0c01", &st);
    assert_int_equal(st.found, 0);
    /* A serial the CA already has. */
    snprintf(path, sizeof(path), "%s/again.csv", f->dir);
    write_file(path, "0d01,2030-01-01,good\n0a02,2030-01-01,good\n");
    import_refused(f, path, "already has serial", 7);
    imported_status(f, "legacy", "0d01", &st);
    assert_int_equal(st.found, 0);
    imported_status(f, "legacy", "0a02", &st);
    assert_int_equal(st.status, CERT_REVOKED);
    /* Only a header; an empty file; no file. */
    snprintf(path, sizeof(path), "%s/header.csv", f->dir);
    write_file(path, "serial,not_after,status\n");
    import_refused(f, path, "no rows", 7);
    snprintf(path, sizeof(path), "%s/empty.csv", f->dir);
    write_file(path, "");
    import_refused(f, path, "non-empty", 7);
    snprintf(path, sizeof(path), "%s/missing.csv", f->dir);
    import_refused(f, path, "cannot open", 7);
    assert_false(ca_import_csv(f->c, "missing", path, 0, NULL, &res, &e));
}

/* A refusal that depends on the CA as well as on the file (here: the cap
 * on imported CDPs a CA may have, IMPORT_MAX_CDPS in ca/import.c) comes
 * after every line was read; it too must leave the index as it was. The CA
 * is put, in memory, far past any such cap, as if earlier imports had used
 * the CDPs; the file has many good rows (more than one write batch of
 * earlier versions), then two new CDPs. */
static void test_import_cdp_cap_changes_nothing(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    create_legacy(f);
    struct ca *legacy = core_find(f->c, "legacy");
    assert_non_null(legacy);
    legacy->next_ext_part = 0x7ffffff0u;
    char path[256];
    snprintf(path, sizeof(path), "%s/big.csv", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    const int good_rows = 50010;
    for (int i = 1; i <= good_rows; i++) fprintf(fp, "%x,2030-01-01,good\n", 0x100000 + i);
    fprintf(fp, "0e01,2030-01-01,good,,,http://cdp.example/a.crl\n");
    fprintf(fp, "0e02,2030-01-01,good,,,http://cdp.example/b.crl\n");
    assert_int_equal(fclose(fp), 0);
    struct ca_import_result res;
    int ok = ca_import_csv(f->c, "legacy", path, 0, NULL, &res, &e);
    assert_false(ok);
    if (strstr(e.msg, "CDPs") == NULL) fail_msg("the import said: %s", e.msg);
    struct ca_info li;
    assert_true(ca_info_get(f->c, "legacy", &li, &e));
    assert_int_equal(li.imported, 0);
    struct ca_cert_status st;
    char first[16];
    snprintf(first, sizeof(first), "%x", 0x100000 + 1);
    imported_status(f, "legacy", first, &st);
    if (st.found) fail_msg("a refused import left serial %s in the index", first);
    size_t n = report_count(f, "legacy");
    if (n != 0) fail_msg("a refused import left %zu certificates in the index", n);
    /* With the CA back to normal the same file goes in whole. */
    legacy->next_ext_part = 0;
    if (!ca_import_csv(f->c, "legacy", path, 0, NULL, &res, &e)) fail_msg("ca_import_csv: %s", e.msg);
    assert_int_equal(res.rows, good_rows + 2);
    assert_int_equal(report_count(f, "legacy"), (size_t)good_rows + 2);
    imported_status(f, "legacy", "0e02", &st);
    assert_int_equal(st.found, 1);
    assert_string_equal(st.crl_url, "http://cdp.example/b.crl");
}

/* The URI of the first CDP of x, or "" (into out). */
static void cert_cdp(X509 *x, char *out, size_t out_len) {
    out[0] = '\0';
    CRL_DIST_POINTS *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
    if (dps == NULL) return;
    DIST_POINT *dp = sk_DIST_POINT_value(dps, 0);
    if (dp != NULL && dp->distpoint != NULL && dp->distpoint->type == 0) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0);
        if (g != NULL && g->type == GEN_URI)
            snprintf(out, out_len, "%.*s", ASN1_STRING_length(g->d.uniformResourceIdentifier),
                     (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier));
    }
    CRL_DIST_POINTS_free(dps);
}

/* The URI of the AIA access method nid of x, or "". */
static void cert_aia(X509 *x, int nid, char *out, size_t out_len) {
    out[0] = '\0';
    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
    for (int i = 0; aia != NULL && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
        ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
        if (OBJ_obj2nid(ad->method) == nid && ad->location->type == GEN_URI)
            snprintf(out, out_len, "%.*s", ASN1_STRING_length(ad->location->d.uniformResourceIdentifier),
                     (const char *)ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier));
    }
    AUTHORITY_INFO_ACCESS_free(aia);
}

/* The longest base URL (191 characters) with the longest CA name (64): the
 * URLs written into certificates would not fit in URLS_MAX. Either the CA is
 * refused when it is made, or the certificates it issues carry the whole
 * URLs; never cut ones. */
static void test_long_base_url_and_name(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    char base[256], name[CA_NAME_MAX + 1];
    strcpy(base, "http://example.com/");
    size_t bl = strlen(base);
    memset(base + bl, 'p', 191 - bl);
    base[191] = '\0';
    name[0] = 'l';
    memset(name + 1, 'x', CA_NAME_MAX - 1);
    name[CA_NAME_MAX] = '\0';
    struct ca_create_params p = root_params(name);
    p.base_url = base;
    if (!ca_create(f->c, &p, &e)) {
        assert_true(e.msg[0] != '\0'); /* refused, with a reason: fine */
        return;
    }
    struct issued a;
    issue(f, name, "long.example", NULL, &a);
    X509 *x = pem_cert(a.pem);
    free(a.pem);
    assert_non_null(x);
    /* Read everything, free, then judge (a failed check jumps out). */
    char want_cdp[1024], want_aia[1024], got_cdp[1024], got_aia[1024];
    snprintf(want_cdp, sizeof(want_cdp), "%s/crl/%s/0.crl", base, name);
    snprintf(want_aia, sizeof(want_aia), "%s/ca/%s.der", base, name);
    cert_cdp(x, got_cdp, sizeof(got_cdp));
    cert_aia(x, NID_ad_ca_issuers, got_aia, sizeof(got_aia));
    X509_free(x);
    if (strcmp(got_cdp, want_cdp) != 0)
        fail_msg("the certificate's CDP is\n  '%s' (%zu characters); expected\n  '%s' (%zu)", got_cdp,
                 strlen(got_cdp), want_cdp, strlen(want_cdp));
    if (strcmp(got_aia, want_aia) != 0)
        fail_msg("the certificate's caIssuers is '%s'; expected '%s'", got_aia, want_aia);
    struct ca_cert_status st;
    status_of(f, name, a.serial, a.serial_len, &st);
    assert_string_equal(st.crl_url, want_cdp);
}

static void test_reopen(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    struct issued a;
    issue(f, "sub", "persist.example", NULL, &a);
    assert_true(ca_revoke(f->c, "sub", a.serial, a.serial_len, REASON_SUPERSEDED, 0, &e));
    /* DIR is held while open. */
    struct ca_core *other = NULL;
    assert_false(ca_core_open(f->revd, 0, &other, &e));
    assert_non_null(strstr(e.msg, "in use"));
    ca_core_free(f->c);
    f->c = NULL;
    if (!ca_core_open(f->revd, 0, &f->c, &e)) fail_msg("reopen: %s", e.msg);
    assert_int_equal(ca_count(f->c), 2);
    struct ca_info si;
    assert_true(ca_info_get(f->c, "sub", &si, &e));
    assert_int_equal(si.issued, 1);
    assert_int_equal(si.revoked, 1);
    assert_string_equal(si.parent, "root");
    struct ca_cert_status st;
    status_of(f, "sub", a.serial, a.serial_len, &st);
    assert_int_equal(st.found, 1);
    assert_int_equal(st.status, CERT_REVOKED);
    assert_int_equal(st.reason, REASON_SUPERSEDED);
    /* It still issues after a reopen (the key is loaded from DIR/keys). */
    struct issued b;
    issue(f, "sub", "after.example", NULL, &b);
    assert_int_equal(report_count(f, "sub"), 2);
    free(a.pem);
    free(b.pem);
    /* A DIR that does not exist is not created without create. */
    char path[256];
    snprintf(path, sizeof(path), "%s/nothing-here", f->dir);
    assert_false(ca_core_open(path, 0, &other, &e));
    assert_non_null(strstr(e.msg, "no such directory"));
}

/* "*" lets an issuer use every template but ocsp-signing (a delegated OCSP
 * responder: it could sign any status for the CA), which must be named. */
static void test_cred_templates(void **state) {
    (void)state;
    assert_true(cred_allows_template("*", "server"));
    assert_true(cred_allows_template("*", "passthrough"));
    assert_false(cred_allows_template("*", "ocsp-signing"));
    assert_true(cred_allows_template("server,ocsp-signing", "ocsp-signing"));
    assert_false(cred_allows_template("server,client", "ocsp-signing"));
    assert_false(cred_allows_template("ocsp-signing-x", "ocsp-signing"));
}


/* ---- name constraints (ca/nameconst.c) ---------------------------------- */

static void expect_name(struct ca_core *c, const char *ca, const char *type, const char *v, int want) {
    struct rerr e = {{0}};
    int r = ca_name_allowed(c, ca, type, v, &e);
    if (r != want) fprintf(stderr, "ca_name_allowed(%s, %s, %s) = %d, want %d: %s\n", ca, type, v, r, want, e.msg);
    assert_int_equal(r, want);
    if (r == 0) assert_true(strncmp(e.msg, CA_NC_REASON ": ", strlen(CA_NC_REASON) + 2) == 0);
}

static void test_name_constraints(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    static const char *const pd[] = {"example.test", ".corp.test"}, *const xd[] = {"secret.example.test"};
    static const char *const pi[] = {"192.0.2.0/24", "2001:db8::/32"}, *const xi[] = {"192.0.2.128/25"};
    struct ca_create_params p = root_params("nc");
    p.parent = "root";
    p.path_len = 1;
    p.nc[CA_NC_PERMIT_DNS] = pd, p.num_nc[CA_NC_PERMIT_DNS] = 2;
    p.nc[CA_NC_EXCLUDE_DNS] = xd, p.num_nc[CA_NC_EXCLUDE_DNS] = 1;
    p.nc[CA_NC_PERMIT_IP] = pi, p.num_nc[CA_NC_PERMIT_IP] = 2;
    p.nc[CA_NC_EXCLUDE_IP] = xi, p.num_nc[CA_NC_EXCLUDE_IP] = 1;
    assert_true(ca_create(f->c, &p, &e));
    /* a grandchild with its own, wider, constraints: nc's still bind */
    static const char *const gd[] = {"other.test", "example.test"};
    struct ca_create_params g = root_params("gc");
    g.parent = "nc";
    g.nc[CA_NC_PERMIT_DNS] = gd, g.num_nc[CA_NC_PERMIT_DNS] = 2;
    assert_true(ca_create(f->c, &g, &e));

    expect_name(f->c, "nc", "dns", "example.test", 1);
    expect_name(f->c, "nc", "dns", "WWW.Example.Test", 1);
    expect_name(f->c, "nc", "dns", "*.corp.test", 1);
    expect_name(f->c, "nc", "dns", "a.b.corp.test", 1);
    expect_name(f->c, "nc", "dns", "corp.test", 0);       /* leading dot: names under it only */
    expect_name(f->c, "nc", "dns", "badexample.test", 0); /* a whole label, not a suffix */
    expect_name(f->c, "nc", "dns", "www.other.test", 0);
    expect_name(f->c, "nc", "dns", "secret.example.test", 0);
    expect_name(f->c, "nc", "dns", "x.secret.example.test", 0);
    expect_name(f->c, "nc", "dns", "*.example.test", 0);  /* could stand for secret.example.test */
    expect_name(f->c, "nc", "dns", "*.secret.example.test", 0);
    expect_name(f->c, "nc", "ip", "192.0.2.1", 1);
    expect_name(f->c, "nc", "ip", "192.0.2.127", 1);
    expect_name(f->c, "nc", "ip", "192.0.2.128", 0);
    expect_name(f->c, "nc", "ip", "198.51.100.1", 0);
    expect_name(f->c, "nc", "ip", "2001:db8::1", 1);
    expect_name(f->c, "nc", "ip", "2001:db9::1", 0);
    expect_name(f->c, "nc", "ip", "::ffff:192.0.2.1", 0); /* an IPv6 address: no IPv6 subtree holds it */
    expect_name(f->c, "nc", "ip", "192.0.2", 0);
    expect_name(f->c, "nc", "email", "a@example.test", 0);
    expect_name(f->c, "gc", "dns", "www.example.test", 1);
    expect_name(f->c, "gc", "dns", "www.other.test", 0); /* nc's constraints */
    expect_name(f->c, "gc", "dns", "a.corp.test", 0);    /* gc's own */
    expect_name(f->c, "gc", "ip", "192.0.2.9", 1);       /* gc has no IP subtree; nc's hold it */
    expect_name(f->c, "sub", "dns", "anything.test", 1); /* unconstrained */
    expect_name(f->c, "root", "ip", "10.0.0.1", 1);
    expect_name(f->c, "nope", "dns", "example.test", -1);

    /* refused at creation: on a root, bad values, too many */
    struct ca_create_params r = root_params("r2");
    r.nc[CA_NC_PERMIT_DNS] = pd, r.num_nc[CA_NC_PERMIT_DNS] = 1;
    assert_false(ca_create(f->c, &r, &e));
    assert_non_null(strstr(e.msg, "not on a root"));
    static const char *const bad[] = {"*.example.test", "a..b", "-a.test", "a_b.test", "", ".", "10.0.0.1",
                                      "10.0.0.1/8", "10.0.0.0/33", "any", "10.0.0.0/8,11.0.0.0/8"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ca_create_params b = root_params("bad");
        b.parent = "root";
        int k = i < 6 ? CA_NC_EXCLUDE_DNS : CA_NC_PERMIT_IP;
        b.nc[k] = &bad[i], b.num_nc[k] = 1;
        assert_false(ca_create(f->c, &b, &e));
    }
    struct ca_create_params m = root_params("bad");
    m.parent = "root";
    m.nc[CA_NC_PERMIT_DNS] = pd, m.num_nc[CA_NC_PERMIT_DNS] = CA_NC_MAX + 1;
    assert_false(ca_create(f->c, &m, &e));
    assert_int_equal(ca_count(f->c), 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crec_round_trip),
        cmocka_unit_test(test_crec_decode_refuses),
        cmocka_unit_test(test_partition_size),
        cmocka_unit_test_setup_teardown(test_create_root_sub, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_unhold_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_failure_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_cdp_cap_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_base_url_and_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_constraints, setup, teardown),
        cmocka_unit_test(test_cred_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
