/* file: a CRL file written atomically, and read back under a cap (a CRL
 * is at most a few MB) and checked against what ca/ recorded. */
#include "crl/file.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>

#include "ca/view.h"
#include "common/der.h"
#include "common/fsutil.h"
#include "common/rtime.h"
#include "crl/archive.h"

/* Time ::= UTCTime (YYMMDDHHMMSSZ) | GeneralizedTime (YYYYMMDDHHMMSSZ),
 * in Unix seconds; 0 when it is neither. */
static int64_t der_time(unsigned tag, const struct der *t) {
    size_t yl = tag == DER_UTCTIME ? 2 : 4;
    if ((tag != DER_UTCTIME && tag != DER_GENERALIZEDTIME) || t->len != yl + 11 || t->p[t->len - 1] != 'Z') return 0;
    int v[6] = {0}; /* year, month, day, hour, minute, second */
    for (size_t i = 0; i + 1 < t->len; i++) {
        if (t->p[i] < '0' || t->p[i] > '9') return 0;
        size_t field = i < yl ? 0 : 1 + (i - yl) / 2;
        v[field] = v[field] * 10 + (t->p[i] - '0');
    }
    int year = tag == DER_UTCTIME ? (v[0] < 50 ? 2000 + v[0] : 1900 + v[0]) : v[0];
    return rtime_from_civil(year, v[1], v[2], v[3], v[4], v[5]);
}

/* The cRLNumber in a CRL's extensions ([0] EXPLICIT Extensions), or 0. */
static uint64_t crl_number_of(struct der exts) {
    static const uint8_t oid_crl_number[] = {0x55, 0x1d, 0x14}; /* 2.5.29.20 */
    struct der list, ext, id, val, num;
    if (!der_get(&exts, DER_SEQUENCE, &list)) return 0;
    while (list.len > 0) {
        if (!der_get(&list, DER_SEQUENCE, &ext) || !der_get(&ext, DER_OID, &id)) return 0;
        if (!der_oid_eq(&id, oid_crl_number, sizeof(oid_crl_number))) continue;
        if (!der_get_optional(&ext, DER_BOOLEAN, NULL, NULL) || !der_get(&ext, DER_OCTET_STRING, &val) ||
            !der_get_integer(&val, &num) || val.len != 0)
            return 0;
        if (num.p[0] & 0x80) return 0; /* negative */
        if (num.len > 9 || (num.len == 9 && num.p[0] != 0)) return 0;
        uint64_t n = 0;
        for (size_t i = 0; i < num.len; i++) n = n << 8 | num.p[i];
        return n;
    }
    return 0;
}

/* The head of a CRL (RFC 5280 5.1, crl/build.h) read without its entries
 * parsed: the framing strict and whole, thisUpdate, nextUpdate (0: none),
 * the number of entries (their elements counted, not read) and the
 * cRLNumber. A restart reads back every published CRL this way: OpenSSL's
 * d2i_X509_CRL decodes every entry (microseconds each, a million in a
 * large CA). The signature is checked by the caller. 1, or 0. */
static int crl_head(const uint8_t *der, size_t len, uint64_t *number, int64_t *this_update, int64_t *next_update,
                    size_t *entries) {
    struct der d, list, tbs, skip, t, revoked, exts;
    unsigned tag;
    der_init(&d, der, len);
    if (!der_get(&d, DER_SEQUENCE, &list) || d.len != 0 || !der_get(&list, DER_SEQUENCE, &tbs)) return 0;
    if (!der_get_optional(&tbs, DER_INTEGER, NULL, NULL) || !der_get(&tbs, DER_SEQUENCE, &skip) ||
        !der_get(&tbs, DER_SEQUENCE, &skip) || !der_get_any(&tbs, &tag, &t, NULL))
        return 0;
    *this_update = der_time(tag, &t);
    *next_update = 0;
    if ((der_peek(&tbs, DER_UTCTIME) || der_peek(&tbs, DER_GENERALIZEDTIME)) && der_get_any(&tbs, &tag, &t, NULL))
        *next_update = der_time(tag, &t);
    *entries = 0;
    int present;
    if (!der_get_optional(&tbs, DER_SEQUENCE, &present, &revoked)) return 0;
    while (present && revoked.len > 0) {
        if (!der_get(&revoked, DER_SEQUENCE, &skip)) return 0;
        (*entries)++;
    }
    if (!der_get(&tbs, DER_CONTEXT(0) | DER_CONSTRUCTED, &exts) || tbs.len != 0) return 0;
    *number = crl_number_of(exts);
    return *this_update != 0 && *number > 0;
}

/* Reads the file of ref under DIR/crl/: 1 with *der (malloc'd) and *len. */
static int read_crl_file(struct ca_core *c, const struct crl_ref *ref, uint8_t **der, size_t *len, struct rerr *e) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/crl/%s", ca_core_dir(c), ref->file) >= (int)sizeof(path))
        return rerr_set(e, "CRL path too long");
    if (!fs_read_file(path, CRL_ARCHIVE_MAX_DER, der, len, e)) return 0;
    if (*len == 0) {
        free(*der);
        return rerr_set(e, "%s: empty", path);
    }
    return 1;
}

int crl_file_number(struct ca_core *c, const struct crl_ref *ref, uint64_t *number, int64_t *this_update) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/crl/%s", ca_core_dir(c), ref->file) >= (int)sizeof(path)) return 0;
    uint8_t *der;
    size_t len, entries;
    int64_t next_update;
    struct rerr ignored;
    if (access(path, F_OK) != 0 || !read_crl_file(c, ref, &der, &len, &ignored)) return 0;
    int ok = crl_head(der, len, number, this_update, &next_update, &entries);
    free(der);
    return ok;
}

int crl_file_store(const char *dir, const struct crl *crl, struct rerr *e) {
    char path[PATH_MAX], sub[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/crl/%s", dir, crl->ref.file) >= (int)sizeof(path))
        return rerr_set(e, "CRL path too long");
    snprintf(sub, sizeof(sub), "%s", path);
    char *slash = strrchr(sub, '/');
    if (slash != NULL) *slash = '\0';
    return fs_mkdirs(sub, 0755, e) && fs_write_atomic(path, crl->der, crl->der_len, 0644, e);
}

void crl_file_unpublished(struct ca_core *c, const struct crl *crl, const struct rerr *e) {
    /* Signed and numbered (the log says crl-sign ok), but not published:
     * the log says that too. */
    const char *slash2 = strchr(crl->ref.file, '/');
    char name[CA_NAME_MAX + 1];
    size_t fl = strlen(crl->ref.file);
    int nl = slash2 ? (int)(slash2 - crl->ref.file) : fl > 4 ? (int)(fl - 4) : 0; /* NAME/3.crl or NAME.crl */
    snprintf(name, sizeof(name), "%.*s", nl < CA_NAME_MAX ? nl : CA_NAME_MAX, crl->ref.file);
    ca_crl_audit_failure(c, "crl-publish", name[0] ? name : NULL,
                         json_pack("{s:s,s:I}", "file", crl->ref.file, "number", (json_int_t)crl->number), e);
}

int crl_file_write(struct ca_core *c, const struct crl *crl, struct rerr *e) {
    if (crl_file_store(ca_core_dir(c), crl, e)) return 1;
    crl_file_unpublished(c, crl, e);
    return 0;
}

int crl_file_load(struct ca_core *c, const char *name, const struct crl_ref *ref, struct crl *out, struct rerr *e) {
    memset(out, 0, sizeof(*out));
    struct ca_crl_issuer is;
    int got = ca_crl_issuer_get(c, name, &is, e);
    if (got <= 0) return got < 0 ? -1 : rerr_set(e, "CA %s is pending", name);
    /* What ca/ recorded decides first (no file read for a CRL that is not
     * the last built, or built before a status change since: a revocation
     * acknowledged just before a crash or a stop, within the coalescing
     * window, is built again rather than taken back). */
    struct ca_crl_state last;
    uint64_t now_change = 0;
    if (ca_crl_state_get(c, name, ref->part, &last, e) != 1) return rerr_set(e, "crl/%s: none recorded", ref->file);
    if (!ca_crl_part_change(c, name, ref->part, &now_change, e)) return 0;
    if (now_change > last.built_from) return rerr_set(e, "crl/%s: a status changed since it was built", ref->file);
    uint8_t *der;
    size_t len, entries = 0;
    if (!read_crl_file(c, ref, &der, &len, e)) return 0;
    /* Then the file: the number and thisUpdate recorded, read from its head,
     * and the signature of the CA over it. */
    uint64_t number = 0;
    int64_t tu = 0, nu = 0;
    int ok = crl_head(der, len, &number, &tu, &nu, &entries) && number == last.number && tu == last.this_update &&
             nu > tu && ca_crl_verify(c, name, der, len);
    ERR_clear_error();
    if (!ok) {
        free(der);
        return rerr_set(e, "crl/%s: not the last CRL built (number, time or signature)", ref->file);
    }
    out->ref = *ref;
    out->number = last.number;
    out->this_update = tu;
    out->next_update = nu;
    out->entries = entries;
    out->der = der;
    out->der_len = len;
    return 1;
}
