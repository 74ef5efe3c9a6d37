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
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/view.h"
#include "common/fsutil.h"
#include "common/rtime.h"
#include "crl/archive.h"

/* An ASN1_TIME in Unix seconds (0 if unreadable). */
static int64_t asn1_time(const ASN1_TIME *t) {
    struct tm tm;
    if (!ASN1_TIME_to_tm(t, &tm)) return 0;
    return rtime_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int crl_file_number(struct ca_core *c, const struct crl_ref *ref, uint64_t *number, int64_t *this_update) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/crl/%s", ca_core_dir(c), ref->file) >= (int)sizeof(path)) return 0;
    uint8_t *der;
    size_t len;
    struct rerr ignored;
    if (access(path, F_OK) != 0 || !fs_read_file(path, CRL_ARCHIVE_MAX_DER, &der, &len, &ignored)) return 0;
    const uint8_t *q = der;
    X509_CRL *x = d2i_X509_CRL(NULL, &q, (long)len);
    ASN1_INTEGER *num = x ? X509_CRL_get_ext_d2i(x, NID_crl_number, NULL, NULL) : NULL;
    int ok = num != NULL && ASN1_INTEGER_get(num) > 0;
    if (ok) {
        *number = (uint64_t)ASN1_INTEGER_get(num);
        *this_update = asn1_time(X509_CRL_get0_lastUpdate(x));
    }
    ASN1_INTEGER_free(num);
    X509_CRL_free(x);
    free(der);
    ERR_clear_error();
    return ok;
}

int crl_file_write(struct ca_core *c, const struct crl *crl, struct rerr *e) {
    char path[PATH_MAX], dir[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/crl/%s", ca_core_dir(c), crl->ref.file) >= (int)sizeof(path))
        return rerr_set(e, "CRL path too long");
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) *slash = '\0';
    if (fs_mkdirs(dir, 0755, e) && fs_write_atomic(path, crl->der, crl->der_len, 0644, e)) return 1;
    /* Signed and numbered (the log says crl-sign ok), but not published:
     * the log says that too. */
    const char *slash2 = strchr(crl->ref.file, '/');
    char name[CA_NAME_MAX + 1];
    size_t fl = strlen(crl->ref.file);
    int nl = slash2 ? (int)(slash2 - crl->ref.file) : fl > 4 ? (int)(fl - 4) : 0; /* NAME/3.crl or NAME.crl */
    snprintf(name, sizeof(name), "%.*s", nl < CA_NAME_MAX ? nl : CA_NAME_MAX, crl->ref.file);
    ca_crl_audit_failure(c, "crl-publish", name[0] ? name : NULL,
                         json_pack("{s:s,s:I}", "file", crl->ref.file, "number", (json_int_t)crl->number), e);
    return 0;
}

int crl_file_load(struct ca_core *c, const char *name, const struct crl_ref *ref, struct crl *out, struct rerr *e) {
    memset(out, 0, sizeof(*out));
    struct ca_crl_issuer is;
    int got = ca_crl_issuer_get(c, name, &is, e);
    if (got <= 0) return got < 0 ? -1 : rerr_set(e, "CA %s is pending", name);
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/crl/%s", ca_core_dir(c), ref->file) >= (int)sizeof(path))
        return rerr_set(e, "CRL path too long");
    FILE *f = fopen(path, "rb");
    if (f == NULL) return rerr_set(e, "%s: %s", path, strerror(errno));
    /* The file is read back under a cap: a CRL is at most a few MB. */
    uint8_t *der = malloc(CRL_ARCHIVE_MAX_DER + 1);
    size_t len = der ? fread(der, 1, CRL_ARCHIVE_MAX_DER + 1, f) : 0;
    fclose(f);
    if (der == NULL || len == 0 || len > CRL_ARCHIVE_MAX_DER) {
        free(der);
        return rerr_set(e, "%s: empty, unreadable or too large", path);
    }
    struct ca_crl_state last;
    int ok = ca_crl_state_get(c, name, ref->part, &last, e) == 1;
    const uint8_t *q = der;
    X509_CRL *x = ok ? d2i_X509_CRL(NULL, &q, (long)len) : NULL;
    ASN1_INTEGER *num = x ? X509_CRL_get_ext_d2i(x, NID_crl_number, NULL, NULL) : NULL;
    int64_t tu = 0, nu = 0;
    if (x != NULL) {
        tu = asn1_time(X509_CRL_get0_lastUpdate(x));
        nu = X509_CRL_get0_nextUpdate(x) ? asn1_time(X509_CRL_get0_nextUpdate(x)) : 0;
    }
    ok = ok && x != NULL && q == der + len && num != NULL && ASN1_INTEGER_get(num) == (long)last.number &&
         tu == last.this_update && nu > tu && ca_crl_verify(c, name, der, len);
    /* A status change since it was built (a revocation acknowledged just
     * before a crash or a stop, within the coalescing window) makes it
     * stale: built again rather than taken back. */
    uint64_t now_change = 0;
    if (ok && !ca_crl_part_change(c, name, ref->part, &now_change, e)) ok = 0;
    int stale = ok && now_change > last.built_from;
    ok = ok && !stale;
    if (ok) out->entries = (size_t)sk_X509_REVOKED_num(X509_CRL_get_REVOKED(x));
    ASN1_INTEGER_free(num);
    X509_CRL_free(x);
    if (!ok) {
        free(der);
        return rerr_set(e, stale ? "%s: a status changed since it was built" : "%s: not the last CRL built (number, time or signature)", path);
    }
    out->ref = *ref;
    out->number = last.number;
    out->this_update = tu;
    out->next_update = nu;
    out->der = der;
    out->der_len = len;
    return 1;
}
