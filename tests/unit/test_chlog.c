/* Unit tests of the change log (ca/chlog.h) through ca/view.h, on a real
 * RocksDB in a throwaway DIR: every status change leaves one record, in
 * order, numbered without gaps; the numbering survives a reopen and a trim;
 * changes of a whole CA are full records.
 *
 * Crash safety is by construction, not by a kill -9 here: each record is
 * added to the very store_batch that carries its change, and that batch is
 * written once, atomically, with the WAL synced (oplog_commit; the CSV
 * import ingests the record's SST with the others in one step). So after
 * any crash the index holds the change and its record, or neither. The
 * reopen checks below read the records back from disk, not from memory.
 * EC P-256 keys only, to stay fast. */
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

#include "ca/ca.h"
#include "ca/internal.h"
#include "ca/responder.h"
#include "ca/signer.h"
#include "ca/view.h"
#include "common/reason.h"

struct fx {
    char dir[64];
    char revd[128];
    struct ca_core *c;
    uint32_t root_id, sub_id;
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
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

static uint32_t ca_id_of(struct fx *f, const char *name) {
    struct ca_view_ca v;
    struct rerr e = {{0}};
    if (!ca_view_ca_get(f->c, name, &v, &e)) fail_msg("ca_view_ca_get %s: %s", name, e.msg);
    return v.id;
}

static int setup(void **state) {
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    strcpy(f->dir, "/tmp/revd-test-chlog-XXXXXX");
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
    f->root_id = ca_id_of(f, "root");
    f->sub_id = ca_id_of(f, "sub");
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

static void reopen(struct fx *f) {
    ca_core_free(f->c);
    f->c = NULL;
    struct rerr e = {{0}};
    if (!ca_core_open(f->revd, 0, &f->c, &e)) fail_msg("ca_core_open: %s", e.msg);
}

/* A CSR for a fresh P-256 key, as PEM (malloc'd). */
static char *make_csr(const char *cn, size_t *out_len) {
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    X509_REQ *req = X509_REQ_new();
    assert_non_null(req);
    X509_NAME *n = X509_NAME_new();
    assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
    assert_true(X509_REQ_set_subject_name(req, n));
    X509_NAME_free(n);
    assert_true(X509_REQ_set_pubkey(req, k));
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

static void serial_of_x509(const X509 *x, struct ca_serial *out) {
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    assert_true(sn->length > 0 && (size_t)sn->length <= sizeof(out->bytes));
    memcpy(out->bytes, sn->data, (size_t)sn->length);
    out->len = (size_t)sn->length;
}

/* Issues an end-entity certificate from CA ca; its serial in *out. */
static void issue(struct fx *f, const char *ca, const char *cn, struct ca_serial *out) {
    size_t cl;
    char *csr = make_csr(cn, &cl);
    struct ca_issue_params ip = {0};
    ip.ca = ca;
    ip.csr = (const uint8_t *)csr;
    ip.csr_len = cl;
    ip.path_len = -1;
    struct rerr e = {{0}};
    char *pem = NULL;
    if (!ca_issue(f->c, &ip, &pem, &e)) fail_msg("ca_issue: %s", e.msg);
    free(csr);
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(x);
    serial_of_x509(x, out);
    X509_free(x);
    free(pem);
}

/* The records ca_view_changes_since gave, copied. */
#define MAX_SEEN 64
struct seen {
    size_t n;
    size_t stop_after; /* 0: never stop */
    struct ca_view_change ch[MAX_SEEN];
    struct ca_serial serial[MAX_SEEN];
};

static int collect(void *arg, const struct ca_view_change *ch) {
    struct seen *s = arg;
    assert_true(s->n < MAX_SEEN);
    s->ch[s->n] = *ch;
    s->serial[s->n].len = ch->serial_len;
    if (ch->serial_len > 0) memcpy(s->serial[s->n].bytes, ch->serial, ch->serial_len);
    s->ch[s->n].serial = NULL; /* a view valid during the call only */
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

static void since(struct fx *f, uint64_t after, struct seen *s) {
    memset(s, 0, sizeof(*s));
    struct rerr e = {{0}};
    if (!ca_view_changes_since(f->c, after, collect, s, &e)) fail_msg("ca_view_changes_since: %s", e.msg);
}

static void assert_one(const struct seen *s, size_t i, uint32_t ca_id, const struct ca_serial *serial) {
    assert_true(i < s->n);
    assert_int_equal(s->ch[i].ca_id, ca_id);
    assert_int_equal(s->ch[i].full, 0);
    assert_int_equal(s->serial[i].len, serial->len);
    assert_memory_equal(s->serial[i].bytes, serial->bytes, serial->len);
}

static void assert_full(const struct seen *s, size_t i, uint32_t ca_id) {
    assert_true(i < s->n);
    assert_int_equal(s->ch[i].ca_id, ca_id);
    assert_int_equal(s->ch[i].full, 1);
    assert_int_equal(s->serial[i].len, 0);
}

/* Numbered one after the other, from first, up to the last written. */
static void assert_numbered(struct fx *f, const struct seen *s, uint64_t first) {
    for (size_t i = 0; i < s->n; i++) assert_int_equal(s->ch[i].seq, first + i);
    if (s->n > 0) assert_int_equal(ca_view_changes_last(f->c), s->ch[s->n - 1].seq);
}

/* Creating a CA is a full change of it; a sub-CA's is also its parent's
 * new certificate. */
static void test_create(void **state) {
    struct fx *f = *state;
    struct seen s;
    since(f, 0, &s);
    assert_int_equal(s.n, 3);
    assert_numbered(f, &s, 1);
    assert_full(&s, 0, f->root_id);
    assert_full(&s, 1, f->sub_id);
    assert_int_equal(s.ch[2].ca_id, f->root_id); /* the sub-CA's certificate */
    assert_int_equal(s.ch[2].full, 0);
    /* A second root. */
    struct rerr e = {{0}};
    struct ca_create_params p = root_params("other");
    assert_true(ca_create(f->c, &p, &e));
    since(f, 3, &s);
    assert_int_equal(s.n, 1);
    assert_full(&s, 0, ca_id_of(f, "other"));
    assert_int_equal(s.ch[0].seq, 4);
}

/* Issue, revoke, hold and release, bulk revoke: one record each, in order;
 * a refused operation leaves none and no gap. */
static void test_status_changes(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    uint64_t base = ca_view_changes_last(f->c);
    struct ca_serial a, b, c2, d, g0;
    issue(f, "sub", "a.example", &a);
    issue(f, "sub", "b.example", &b);
    issue(f, "sub", "c.example", &c2);
    issue(f, "sub", "d.example", &d);
    issue(f, "sub", "e.example", &g0);
    assert_true(ca_revoke(f->c, "sub", a.bytes, a.len, REASON_KEY_COMPROMISE, 0, &e));
    assert_true(ca_revoke(f->c, "sub", b.bytes, b.len, REASON_CERTIFICATE_HOLD, 0, &e));
    assert_true(ca_unhold(f->c, "sub", b.bytes, b.len, &e));
    struct ca_serial bulk[2] = {c2, d};
    assert_true(ca_revoke_many(f->c, "sub", bulk, 2, REASON_SUPERSEDED, 0, &e));
    /* Refused: already revoked; a serial the CA never issued. */
    assert_false(ca_revoke(f->c, "sub", a.bytes, a.len, REASON_KEY_COMPROMISE, 0, &e));
    struct ca_serial twice[2] = {a, a};
    assert_false(ca_revoke_many(f->c, "sub", twice, 2, REASON_SUPERSEDED, 0, &e));
    assert_false(ca_unhold(f->c, "sub", a.bytes, a.len, &e));
    /* Refused after the first serial's record was added to the batch: its
     * number is given back (the check below finds no gap). */
    struct ca_serial late[2] = {g0, a};
    assert_false(ca_revoke_many(f->c, "sub", late, 2, REASON_SUPERSEDED, 0, &e));

    struct seen s;
    since(f, base, &s);
    assert_int_equal(s.n, 10);
    assert_numbered(f, &s, base + 1);
    const struct ca_serial *want[] = {&a, &b, &c2, &d, &g0, &a, &b, &b, &c2, &d};
    for (size_t i = 0; i < 10; i++) assert_one(&s, i, f->sub_id, want[i]);

    /* The numbering and the records survive a reopen, and go on. */
    uint64_t last = ca_view_changes_last(f->c);
    reopen(f);
    assert_int_equal(ca_view_changes_last(f->c), last);
    since(f, base, &s);
    assert_int_equal(s.n, 10);
    struct ca_serial g;
    issue(f, "root", "g.example", &g);
    since(f, last, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ch[0].seq, last + 1);
    assert_one(&s, 0, f->root_id, &g);

    /* cb stops the walk. */
    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    assert_true(ca_view_changes_since(f->c, 0, collect, &s, &e));
    assert_int_equal(s.n, 2);
    /* Nothing after the last. */
    since(f, last + 1, &s);
    assert_int_equal(s.n, 0);
    since(f, UINT64_MAX, &s);
    assert_int_equal(s.n, 0);
}

/* Trimming deletes what was asked, and the numbering goes on above it even
 * when no record is left, across a reopen. */
static void test_trim(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    struct ca_serial a, b;
    issue(f, "sub", "a.example", &a);
    issue(f, "sub", "b.example", &b);
    uint64_t last = ca_view_changes_last(f->c);
    assert_true(last >= 5);
    assert_true(ca_view_changes_trim(f->c, last - 1, &e));
    struct seen s;
    since(f, 0, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ch[0].seq, last);
    assert_one(&s, 0, f->sub_id, &b);
    /* Everything (a bound past the last counts as the last). */
    assert_true(ca_view_changes_trim(f->c, UINT64_MAX, &e));
    since(f, 0, &s);
    assert_int_equal(s.n, 0);
    assert_int_equal(ca_view_changes_last(f->c), last);
    reopen(f);
    assert_int_equal(ca_view_changes_last(f->c), last);
    assert_true(ca_revoke(f->c, "sub", a.bytes, a.len, REASON_KEY_COMPROMISE, 0, &e));
    since(f, 0, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ch[0].seq, last + 1);
    assert_one(&s, 0, f->sub_id, &a);
    /* Trimming nothing is fine. */
    assert_true(ca_view_changes_trim(f->c, 0, &e));
    since(f, 0, &s);
    assert_int_equal(s.n, 1);
}

/* A responder's revocation replaces it and makes every response of its CA
 * change: a full record, durable with the new responder. */
static void test_responder_rotation(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    struct ca_signer sg;
    uint64_t base = ca_view_changes_last(f->c);
    if (!ca_responder_signer(f->c, "sub", &sg, &e)) fail_msg("ca_responder_signer: %s", e.msg);
    assert_non_null(sg.cert);
    const uint8_t *p = sg.cert;
    X509 *x = d2i_X509(NULL, &p, (long)sg.cert_len);
    assert_non_null(x);
    struct ca_serial rs;
    serial_of_x509(x, &rs);
    X509_free(x);
    struct seen s;
    since(f, base, &s);
    assert_int_equal(s.n, 1); /* the responder's certificate */
    assert_one(&s, 0, f->sub_id, &rs);
    assert_true(ca_revoke(f->c, "sub", rs.bytes, rs.len, REASON_KEY_COMPROMISE, 0, &e));
    since(f, base + 1, &s);
    assert_int_equal(s.n, 3); /* the new responder, every response, the revocation */
    assert_numbered(f, &s, base + 2);
    assert_int_equal(s.ch[0].full, 0);
    assert_full(&s, 1, f->sub_id);
    assert_one(&s, 2, f->sub_id, &rs);
}

/* A CSV import is one full record of its CA, ingested with the rows. */
static void test_import(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    struct ca_create_params p = root_params("legacy");
    assert_true(ca_create(f->c, &p, &e));
    char path[256];
    snprintf(path, sizeof(path), "%s/inventory.csv", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("serial,not_after,status,revocation_time,reason\n"
          "0a01,2030-01-01T00:00:00Z,good\n"
          "0a02,2030-01-01T00:00:00Z,revoked,2024-05-01T10:00:00Z,keyCompromise\n",
          fp);
    fclose(fp);
    uint64_t base = ca_view_changes_last(f->c);
    struct ca_import_result res;
    if (!ca_import_csv(f->c, "legacy", path, 0, NULL, &res, &e)) fail_msg("ca_import_csv: %s", e.msg);
    /* A refused import leaves no record (and no gap). */
    assert_false(ca_import_csv(f->c, "nosuch", path, 0, NULL, &res, &e));
    struct ca_serial g;
    issue(f, "sub", "g.example", &g);
    reopen(f);
    struct seen s;
    since(f, base, &s);
    assert_int_equal(s.n, 2);
    assert_numbered(f, &s, base + 1);
    assert_full(&s, 0, ca_id_of(f, "legacy"));
    assert_one(&s, 1, f->sub_id, &g);
}

/* A damaged record is an error that names it, not the end of the log. */
static void test_damaged(void **state) {
    struct fx *f = *state;
    struct rerr e = {{0}};
    uint64_t last = ca_view_changes_last(f->c);
    uint8_t key[9], bad[3] = {0, 0, 1};
    key[0] = K_CHANGE;
    bytes_put_u64(key + 1, last + 1);
    struct store_batch *b = store_batch_new();
    store_batch_put(b, key, sizeof(key), bad, sizeof(bad));
    assert_true(store_write(f->c->st, b, 0, &e));
    store_batch_free(b);
    struct seen s;
    memset(&s, 0, sizeof(s));
    assert_false(ca_view_changes_since(f->c, 0, collect, &s, &e));
    assert_int_equal(s.n, last); /* the good ones came first */
    char want[64];
    snprintf(want, sizeof(want), "'c' %llu", (unsigned long long)(last + 1));
    assert_non_null(strstr(e.msg, want));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_responder_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
