/* Unit tests of ocsp/precompute through the seams it uses (ca/view.h,
 * ca/responder.h) on a throwaway DIR: the records walked in serial order
 * beside their stored responses; stored responses taken again, byte for
 * byte; an overlay after a revocation; a generation and its readers
 * (ocsp/gen.h). EC P-256 keys only, to stay fast. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/responder.h"
#include "ca/view.h"
#include "common/reason.h"
#include "ocsp/gen.h"
#include "ocsp/precompute.h"
#include "ocsp/table.h"

#define NUM_CERTS 5
#define VALIDITY (4 * 86400)

struct fx {
    char dir[64], revd[96];
    struct ca_core *c;
    uint8_t serial[NUM_CERTS][HEX_SERIAL_MAX + 1];
    size_t serial_len[NUM_CERTS];
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static char *make_csr(size_t *out_len) {
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509_REQ *req = X509_REQ_new();
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"ee.example", -1, -1, 0);
    X509_REQ_set_subject_name(req, n);
    X509_NAME_free(n);
    X509_REQ_set_pubkey(req, k);
    X509_REQ_sign(req, k, EVP_sha256());
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(bio, req);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *out = malloc((size_t)len + 1);
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    *out_len = (size_t)len;
    BIO_free(bio);
    X509_REQ_free(req);
    EVP_PKEY_free(k);
    return out;
}

static int setup(void **state) {
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    strcpy(f->dir, "/tmp/revd-test-precompute-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    snprintf(f->revd, sizeof(f->revd), "%s/revd", f->dir);
    struct rerr e = {{0}};
    struct ca_create_params p = {0};
    p.name = "root";
    p.subject = "/CN=Test Root";
    p.key = CA_KEY_EC_P256;
    p.path_len = -1;
    if (!ca_core_open(f->revd, 1, &f->c, &e) || !ca_create(f->c, &p, &e)) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return -1;
    }
    size_t cl;
    char *csr = make_csr(&cl);
    for (int i = 0; i < NUM_CERTS; i++) {
        struct ca_issue_params ip = {0};
        ip.ca = "root";
        ip.csr = (const uint8_t *)csr;
        ip.csr_len = cl;
        ip.path_len = -1;
        char *pem = NULL;
        if (!ca_issue(f->c, &ip, &pem, &e)) {
            fprintf(stderr, "ca_issue: %s\n", e.msg);
            return -1;
        }
        BIO *bio = BIO_new_mem_buf(pem, -1);
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
        memcpy(f->serial[i], sn->data, (size_t)sn->length);
        f->serial_len[i] = (size_t)sn->length;
        X509_free(x);
        BIO_free(bio);
        free(pem);
    }
    free(csr);
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

/* The index's key order: by length, then bytes. */
static int serial_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    if (al != bl) return al < bl ? -1 : 1;
    return memcmp(a, b, al);
}

/* Walks root's records: returns how many, checks their order, and counts
 * those with a stored record in *stored. */
static size_t walk(struct fx *f, int with_stored, size_t *stored) {
    struct rerr e = {{0}};
    struct ca_view_walk *w = ca_view_walk_new(f->c, "root", with_stored, &e);
    assert_non_null(w);
    struct ca_view_cert r;
    const uint8_t *sv;
    size_t svl, n = 0;
    uint8_t last[32];
    size_t last_len = 0;
    *stored = 0;
    int got;
    while ((got = ca_view_walk_next(w, &r, &sv, &svl, &e)) == 1) {
        assert_true(r.serial_len > 0 && r.serial_len <= sizeof(last));
        if (n > 0) assert_true(serial_cmp(last, last_len, r.serial, r.serial_len) < 0);
        memcpy(last, r.serial, r.serial_len);
        last_len = r.serial_len;
        if (sv != NULL) (*stored)++;
        if (!with_stored) assert_null(sv);
        n++;
    }
    assert_int_equal(got, 0);
    ca_view_walk_free(w);
    return n;
}

static void test_view(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    size_t stored;
    assert_int_equal(walk(f, 1, &stored), NUM_CERTS);
    assert_int_equal(stored, 0);
    struct ca_view_ca vc;
    assert_true(ca_view_ca_get(f->c, "root", &vc, &e));
    assert_false(ca_view_ca_get(f->c, "nope", &vc, &e));
    struct ca_view_cert r;
    assert_int_equal(ca_view_cert_get(f->c, vc.id, f->serial[1], f->serial_len[1], &r, &e), CA_VIEW_FOUND);
    assert_int_equal(r.status, CERT_GOOD);
    assert_true(ca_revoke(f->c, "root", f->serial[1], f->serial_len[1], REASON_KEY_COMPROMISE, 0, &e));
    assert_int_equal(ca_view_cert_get(f->c, vc.id, f->serial[1], f->serial_len[1], &r, &e), CA_VIEW_FOUND);
    assert_int_equal(r.status, CERT_REVOKED);
    assert_int_equal(r.reason, REASON_KEY_COMPROMISE);
    assert_true(r.revoked_at > 0);
    const uint8_t never[3] = {0x0b, 0xad, 0x01};
    assert_int_equal(ca_view_cert_get(f->c, vc.id, never, sizeof(never), &r, &e), CA_VIEW_NONE);
}

/* Every response of a is in b, the same bytes (both hashes). */
static void same_responses(struct fx *f, const struct ocsp_table *a, const struct ocsp_table *b) {
    for (int i = 0; i < NUM_CERTS; i++)
        for (int h = 0; h < 2; h++) {
            enum ocsp_hash hh = h ? OCSP_HASH_SHA256 : OCSP_HASH_SHA1;
            const uint8_t *x, *y;
            size_t xl, yl;
            assert_true(ocsp_table_find(a, f->serial[i], f->serial_len[i], hh, &x, &xl));
            assert_true(ocsp_table_find(b, f->serial[i], f->serial_len[i], hh, &y, &yl));
            assert_int_equal(xl, yl);
            assert_memory_equal(x, y, xl);
        }
}

static void test_stored_reused(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    struct ocsp_precompute_stats st;
    struct ocsp_table *t1 = NULL, *t2 = NULL, *t3 = NULL;
    /* Not persisted: nothing stored. */
    assert_true(ocsp_precompute(f->c, "root", VALIDITY, 0, &t1, &st, &e));
    ocsp_table_free(t1);
    size_t stored;
    walk(f, 1, &stored);
    assert_int_equal(stored, 0);
    assert_true(ocsp_precompute(f->c, "root", VALIDITY, OCSP_PRECOMPUTE_REUSE | OCSP_PRECOMPUTE_PERSIST, &t1, &st,
                                &e));
    /* The responder's own certificate is one of root's records too. */
    assert_int_equal(st.certificates, NUM_CERTS + 1);
    assert_int_equal(st.reused, 0);
    assert_int_equal(st.responses, 2 * (NUM_CERTS + 1));
    walk(f, 1, &stored);
    assert_int_equal(stored, NUM_CERTS + 1);
    assert_true(ocsp_precompute(f->c, "root", VALIDITY, OCSP_PRECOMPUTE_REUSE, &t2, &st, &e));
    assert_int_equal(st.reused, NUM_CERTS + 1);
    assert_int_equal(st.responses, 0);
    same_responses(f, t1, t2);
    /* A shorter validity than they were signed for: signed again. */
    assert_true(ocsp_precompute(f->c, "root", VALIDITY / 2, OCSP_PRECOMPUTE_REUSE, &t3, &st, &e));
    assert_int_equal(st.reused, 0);
    ocsp_table_free(t1);
    ocsp_table_free(t2);
    ocsp_table_free(t3);
}

static void test_overlay_and_gen(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    struct gen *g = NULL;
    struct ocsp_precompute_stats st;
    struct ocsp_gen_opts go = {VALIDITY, NULL, 0};
    assert_true(ocsp_precompute_gen(f->c, &go, &g, &st, &e));
    assert_int_equal(g->num, 1);
    const struct gen_ca *gc = gen_ca_at(g, 0);
    assert_string_equal(gen_ca_name(gc), "root");
    struct ca_view_ca vc;
    assert_true(ca_view_ca_get(f->c, "root", &vc, &e));
    assert_int_equal(gen_ca_id(gc), vc.id);
    uint8_t *der;
    size_t dl, gl;
    assert_true(ca_view_ca_cert(f->c, "root", &der, &dl, &e));
    const uint8_t *gd = gen_ca_cert(gc, &gl);
    assert_int_equal(gl, dl);
    assert_memory_equal(gd, der, dl);
    free(der);
    uint8_t nh[64], kh[64];
    for (int h = 0; h <= OCSP_HASH_SHA512; h++) {
        assert_true(ca_issuer_hashes(f->c, "root", (enum ca_digest)h, nh, kh, &e));
        assert_ptr_equal(gen_find_issuer(g, (enum ocsp_hash)h, nh, kh), gc);
    }
    assert_int_equal(gen_responses(g), NUM_CERTS + 1);
    assert_null(gen_ca_overlay(gc));
    for (int i = 0; i < NUM_CERTS; i++) assert_true(gen_has_serial(gc, f->serial[i], f->serial_len[i]));

    /* A revocation: its responses re-signed into an overlay, and stored. */
    assert_true(ca_revoke(f->c, "root", f->serial[2], f->serial_len[2], REASON_SUPERSEDED, 0, &e));
    struct ca_change ch[2];
    memset(ch, 0, sizeof(ch));
    snprintf(ch[0].ca, sizeof(ch[0].ca), "root");
    memcpy(ch[0].serial, f->serial[2], f->serial_len[2]);
    ch[0].serial_len = f->serial_len[2];
    ch[1] = ch[0]; /* twice in one batch: signed once */
    struct ocsp_table *over = NULL;
    size_t signed_count = 0;
    assert_true(ocsp_precompute_overlay(f->c, "root", NULL, ch, 2, VALIDITY, &over, &signed_count, &e));
    assert_int_equal(signed_count, 1);
    assert_int_equal(ocsp_table_count(over), 1);
    assert_true(ocsp_table_has(over, f->serial[2], f->serial_len[2]));
    struct ocsp_table *t = NULL;
    assert_true(ocsp_precompute(f->c, "root", VALIDITY, OCSP_PRECOMPUTE_REUSE, &t, &st, &e));
    assert_int_equal(st.reused, NUM_CERTS + 1); /* the overlay stored the revoked one's */
    const uint8_t *x, *y;
    size_t xl, yl;
    assert_true(ocsp_table_find(over, f->serial[2], f->serial_len[2], OCSP_HASH_SHA1, &x, &xl));
    assert_true(ocsp_table_find(t, f->serial[2], f->serial_len[2], OCSP_HASH_SHA1, &y, &yl));
    assert_int_equal(xl, yl);
    assert_memory_equal(x, y, xl);
    ocsp_table_free(t);
    ocsp_table_free(over);
    gen_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stored_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_and_gen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
