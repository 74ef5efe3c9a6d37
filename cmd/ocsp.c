/* ocsp: `revd ocsp respond|precompute`: one response signed from the index,
 * or every response of a CA measured. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>


#include "ca/ca.h"
#include "ca/responder.h"
#include "cmd/cmd.h"
#include "common/fsutil.h"
#include "common/hex.h"
#include "common/reason.h"
#include "common/rtime.h"
#include "ocsp/precompute.h"
#include "ocsp/response.h"
#include "ocsp/table.h"

/* ---- ocsp respond ---- */

/* The default validity of a response (issue #3 makes it configurable). */

static int run_ocsp_respond(struct cli *cli, struct opts *o, const char *pos) {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t slen;
    if (!cmd_parse_serial(cli, o, serial, &slen)) return 1;
    enum ocsp_hash h = OCSP_HASH_SHA1;
    if (o->hash != NULL) {
        if (strcmp(o->hash, "sha1") == 0) h = OCSP_HASH_SHA1;
        else if (strcmp(o->hash, "sha256") == 0) h = OCSP_HASH_SHA256;
        else if (strcmp(o->hash, "sha384") == 0) h = OCSP_HASH_SHA384;
        else if (strcmp(o->hash, "sha512") == 0) h = OCSP_HASH_SHA512;
        else return cmd_usage_fail(cli, "--hash must be sha1, sha256, sha384 or sha512");
    }
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ca_cert_status st;
    struct ca_signer signer;
    uint8_t name_hash[64], key_hash[64], certid[256], out[16384];
    size_t certid_len, out_len = 0;
    int ok = ca_status(c, o->ca, serial, slen, &st, &e);
    const char *what = "";
    char reason_buf[64] = "";
    int64_t now = rtime_now(), next_update = 0;
    if (ok && !st.found) {
        /* Never "good" for a serial this CA never issued (RFC 5019). */
        out_len = ocsp_response_error(OCSP_UNAUTHORIZED, out);
        what = "unauthorized (this CA never issued that serial)";
    } else if (ok) {
        ok = ca_issuer_hashes(c, o->ca, (enum ca_digest)h, name_hash, key_hash, &e) && ca_responder_signer(c, o->ca, &signer, &e);
        if (ok && !ocsp_certid_build(h, name_hash, key_hash, serial, slen, certid, sizeof(certid), &certid_len))
            ok = rerr_set(&e, "cannot build the CertID");
        struct ocsp_single r = {certid, certid_len, st.status == CERT_REVOKED ? OCSP_REVOKED : OCSP_GOOD,
                                st.revoked_at, -1, 0, 0};
        if (ok && !ocsp_times(now, OCSP_VALIDITY_DEFAULT_S, ca_ocsp_backdate(c), st.not_after, &r.this_update,
                              &r.next_update))
            ok = rerr_set(&e, "the certificate has expired: there is no status to sign");
        next_update = r.next_update;
        /* unspecified is sent as no reason (RFC 5280 5.3.1). */
        if (st.status == CERT_REVOKED && st.reason != 0) r.reason = st.reason;
        if (ok && !ocsp_response_sign(&signer, &r, now, NULL, 0, out, sizeof(out), &out_len))
            ok = rerr_set(&e, "signing the response failed");
        if (st.status == CERT_REVOKED) snprintf(reason_buf, sizeof(reason_buf), "revoked (%s)", reason_name(st.reason));
        what = st.status == CERT_REVOKED ? reason_buf : "good";
    }
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
    char buf[PATH_MAX];
    if (!fs_write(cmd_resolve(cli, o->out, buf), out, out_len, 0644, FS_NAMED, &e)) return cmd_fail(cli, e.msg);
    char until[21];
    rtime_format(next_update, until);
    fprintf(cli->out, "wrote %s: %s, %zu bytes%s%s\n", o->out, what, out_len, st.found ? ", next update " : "",
            st.found ? until : "");
    return 0;
}

static int run_ocsp_precompute(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ocsp_table *t = NULL;
    struct ocsp_precompute_stats st;
    int ok = ocsp_precompute(c, o->ca, OCSP_VALIDITY_DEFAULT_S, 0, &t, &st, &e);
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
    size_t bytes = ocsp_table_bytes(t);
    fprintf(cli->out,
            "precomputed %llu responses for %llu certificates of CA %s (%llu expired skipped) in %.2f s: "
            "%.0f signatures/s, %.0f bytes of memory per response\n",
            (unsigned long long)st.responses, (unsigned long long)st.certificates, o->ca,
            (unsigned long long)st.skipped_expired, st.seconds, st.seconds > 0 ? st.responses / st.seconds : 0.0,
            st.responses ? (double)bytes / (double)st.responses : 0.0);
    ocsp_table_free(t);
    return 0;
}

/* ---- the table (cmd/cli.c dispatches) ---- */

static const int a_respond[] = {O_CA, O_SERIAL, O_HASH, O_OUT, 0};
static const int a_precompute[] = {O_CA, 0};

const struct cmd cmd_ocsp_cmds[] = {
    {"respond", "revd ocsp respond --ca NAME --serial HEX --out FILE [--hash sha1|sha256|sha384|sha512]",
     "Signs the OCSP response for one certificate from the index, as the responder\n"
     "will serve it, and writes it (DER) to FILE: good, revoked (with its reason), or\n"
     "unauthorized for a serial the CA never issued. Signed by the CA's delegated\n"
     "responder, created (or renewed) on first use. Valid 4 days.\n"
     "  --hash H              the CertID hash algorithm (default sha1)\n",
     a_respond, run_ocsp_respond, 0, 0, 0},
    {"precompute", "revd ocsp precompute --ca NAME",
     "Signs the responses of every unexpired certificate of a CA (SHA-1 and SHA-256\n"
     "CertIDs) into memory, as the responder will at start, and reports how long it\n"
     "took and the memory per response. Writes nothing (a measurement, for now).\n",
     a_precompute, run_ocsp_precompute, 0, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0},
};
