/* revd demo: a demo hierarchy in ./demo, 1,000 certificates, a few revoked,
 * and the commands a newcomer can paste to see it work. */
#include "cmd/cli.h"
#include "node/serve.h"

#include <limits.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ca/ca.h"
#include "common/fsutil.h"
#include "common/hex.h"
#include "common/reason.h"

#define DEMO_CERTS 1000

/* A fresh P-256 key and a CSR for cn, as PEM. */
static int make_csr(const char *cn, char **key_pem, char **csr_pem) {
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509_REQ *r = X509_REQ_new();
    X509_NAME *n = X509_NAME_new();
    int ok = k && r && n &&
             X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) &&
             X509_REQ_set_subject_name(r, n) && X509_REQ_set_pubkey(r, k) &&
             X509_REQ_sign(r, k, EVP_sha256()) > 0;
    BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
    ok = ok && PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) && PEM_write_bio_X509_REQ(cb, r);
    if (ok) {
        char *d;
        long l = BIO_get_mem_data(kb, &d);
        *key_pem = strndup(d, (size_t)l);
        l = BIO_get_mem_data(cb, &d);
        *csr_pem = strndup(d, (size_t)l);
    }
    BIO_free(kb);
    BIO_free(cb);
    X509_NAME_free(n);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
    return ok;
}

static int serial_of(const char *pem, uint8_t *out, size_t *len, char hex[64]) {
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (x == NULL) return 0;
    const ASN1_INTEGER *s = X509_get0_serialNumber(x);
    *len = (size_t)s->length;
    memcpy(out, s->data, *len);
    hex_encode_serial(out, *len, hex);
    X509_free(x);
    return 1;
}

#define DEMO_USAGE "usage: revd demo [--dir DIR] [--listen ADDRESS:PORT | --no-serve]\n"

/* demo_create makes the demo hierarchy in dir: root and issuing CA,
 * DEMO_CERTS certificates, every 200th revoked, the good and revoked
 * samples under dir/sample/ (their serials in good_hex, revoked_hex).
 * 1, or 0 (said on cli->err). */
static int demo_create(struct cli *cli, struct ca_core *c, const char *dir, char good_hex[64], char revoked_hex[64]) {
    struct rerr e;
    struct ca_info info;
    char path[PATH_MAX];
    struct ca_create_params root = {.name = "demo-root", .subject = "/CN=revd demo root/O=revd demo",
                                    .key = CA_KEY_EC_P256, .path_len = -1};
    struct ca_create_params sub = {.name = "demo-issuing", .parent = "demo-root",
                                   .subject = "/CN=revd demo issuing CA/O=revd demo",
                                   .key = CA_KEY_EC_P256, .path_len = 0};
    if ((!ca_info_get(c, "demo-root", &info, &e) && !ca_create(c, &root, &e)) || !ca_create(c, &sub, &e)) {
        fprintf(cli->err, "revd: %s\n", e.msg);
        return 0;
    }
    snprintf(path, sizeof(path), "%s/sample", dir);
    if (!fs_mkdirs(path, 0700, &e)) {
        fprintf(cli->err, "revd: %s\n", e.msg);
        return 0;
    }
    for (int i = 1; i <= DEMO_CERTS; i++) {
        char cn[64], *key = NULL, *csr = NULL, *pem = NULL, san[80];
        snprintf(cn, sizeof(cn), "host%04d.demo.test", i);
        snprintf(san, sizeof(san), "DNS:%s", cn);
        if (!make_csr(cn, &key, &csr)) {
            fprintf(cli->err, "revd: cannot make a demo CSR\n");
            return 0;
        }
        struct ca_issue_params p = {.ca = "demo-issuing", .csr = (const uint8_t *)csr,
                                    .csr_len = strlen(csr), .san = san, .path_len = -1};
        int ok = ca_issue(c, &p, &pem, &e);
        uint8_t serial[21];
        size_t slen = 0;
        char hex[64];
        if (ok && (i == 1 || i == 2)) {
            /* host0001: the good sample; host0002: the revoked one. */
            const char *tag = i == 1 ? "good" : "revoked";
            serial_of(pem, serial, &slen, hex);
            snprintf(path, sizeof(path), "%s/sample/%s.pem", dir, tag);
            ok = fs_write_atomic(path, pem, strlen(pem), 0644, &e);
            snprintf(path, sizeof(path), "%s/sample/%s.key", dir, tag);
            ok = ok && fs_write_atomic(path, key, strlen(key), 0600, &e);
            snprintf(i == 1 ? good_hex : revoked_hex, 64, "%s", hex);
        }
        /* Every 200th certificate is revoked, with a few reasons. */
        if (ok && (i == 2 || i % 200 == 0)) {
            static const int reasons[] = {REASON_KEY_COMPROMISE, REASON_SUPERSEDED,
                                          REASON_CERTIFICATE_HOLD, REASON_CESSATION_OF_OPERATION};
            serial_of(pem, serial, &slen, hex);
            ok = ca_revoke(c, "demo-issuing", serial, slen, reasons[(i / 200) % 4], 0, &e);
        }
        free(key);
        free(csr);
        free(pem);
        if (!ok) {
            fprintf(cli->err, "revd: %s\n", e.msg);
            return 0;
        }
        if (i % 250 == 0) {
            fprintf(cli->out, "revd: issued %d of %d certificates\n", i, DEMO_CERTS);
            fflush(cli->out);
        }
    }
    snprintf(path, sizeof(path), "%s/sample/serials", dir);
    char line[160];
    snprintf(line, sizeof(line), "%s %s\n", good_hex, revoked_hex);
    fs_write_atomic(path, line, strlen(line), 0644, &e);
    return 1;
}

/* demo_tell prints the commands to try on the demo in dir (and, when it
 * is served, on listen). */
static void demo_tell(struct cli *cli, const char *dir, const char *listen, int serve, const char *good_hex,
                      const char *revoked_hex) {
    fprintf(cli->out,
            "\nThe demo CA is ready. Try:\n\n"
            "  # the chain verifies\n"
            "  openssl verify -CAfile %s/ca/demo-root.pem -untrusted %s/ca/demo-issuing.pem %s/sample/good.pem\n"
            "  # its extensions: CRL distribution point (its partition), OCSP and caIssuers URLs\n"
            "  openssl x509 -in %s/sample/good.pem -noout -text\n"
            "  # revocation status, from the index\n"
            "  ./revd status --dir %s --ca demo-issuing --serial %s\n"
            "  ./revd status --dir %s --ca demo-issuing --serial %s\n"
            "  ./revd ca list --dir %s\n"
            "  ./revd report --dir %s --ca demo-issuing --format csv | head\n"
            "  # issue your own\n"
            "  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=me.demo.test \\\n"
            "      -keyout me.key -out me.csr\n"
            "  ./revd issue --dir %s --ca demo-issuing --csr me.csr --san DNS:me.demo.test > me.pem\n",
            dir, dir, dir, dir, dir, good_hex, dir, revoked_hex, dir, dir, dir);
    if (serve)
        fprintf(cli->out,
                "  # OCSP, while the server below runs (the certificates' OCSP URL is http://127.0.0.1:8080/ocsp)\n"
                "  cat %s/ca/demo-issuing.pem %s/ca/demo-root.pem > demo-chain.pem\n"
                "  openssl ocsp -issuer %s/ca/demo-issuing.pem -cert %s/sample/good.pem -url http://%s/ocsp -CAfile demo-chain.pem\n"
                "  openssl ocsp -issuer %s/ca/demo-issuing.pem -cert %s/sample/revoked.pem -url http://%s/ocsp -CAfile demo-chain.pem\n"
                "  # the CRL of the sample's partition (its CDP), and a check against it\n"
                "  curl -s http://%s/crl/demo-issuing/0.crl | openssl crl -inform DER -noout -text | head -20\n"
                "  curl -s http://%s/crl/demo-issuing/0.crl | openssl crl -inform DER -out demo-0.crl.pem\n"
                "  openssl verify -crl_check -CAfile demo-chain.pem -CRLfile demo-0.crl.pem %s/sample/good.pem\n"
                "  # revoke the good one: the next OCSP answer says revoked, the CRL a second later\n"
                "  ./revd revoke --dir %s --ca demo-issuing --serial %s --reason keyCompromise\n"
                "\nServing the demo on %s (Ctrl-C stops it):\n\n",
                dir, dir, dir, dir, listen, dir, dir, listen, listen, listen, dir, dir, good_hex, listen);
}

int demo_run(struct cli *cli, int argc, char **argv) {
    const char *dir = "./demo", *listen = "127.0.0.1:8080";
    int serve = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            fprintf(cli->out,
                    DEMO_USAGE "\n"
                    "Creates a demo hierarchy in DIR (default ./demo) when it is absent: root CA\n"
                    "demo-root, issuing CA demo-issuing, %d certificates, a few revoked; writes a\n"
                    "sample certificate and key under DIR/sample/, prints commands to try, then\n"
                    "runs `revd serve` on DIR, answering OCSP on --listen (default 127.0.0.1:8080,\n"
                    "the URL in the demo certificates) until SIGTERM or SIGINT (Ctrl-C).\n"
                    "--no-serve stops after creating.\n",
                    DEMO_CERTS);
            return 0;
        }
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strncmp(argv[i], "--dir=", 6) == 0) dir = argv[i] + 6;
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) listen = argv[++i];
        else if (strcmp(argv[i], "--no-serve") == 0) serve = 0;
        else {
            fprintf(cli->err, "revd: unknown option '%s'\n" DEMO_USAGE, argv[i]);
            return 2;
        }
    }
    struct rerr e;
    struct ca_core *c = NULL;
    if (!ca_core_open(dir, 1, &c, &e)) {
        fprintf(cli->err, "revd: %s\n", e.msg);
        return 1;
    }
    struct ca_info info;
    char path[PATH_MAX];
    int status = 1;
    char good_hex[64] = "", revoked_hex[64] = "";
    if (ca_info_get(c, "demo-issuing", &info, &e)) {
        fprintf(cli->out, "revd: the demo in %s exists already (%llu certificates); delete it to start over\n",
                dir, (unsigned long long)info.issued);
        snprintf(path, sizeof(path), "%s/sample/serials", dir);
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            if (fscanf(f, "%63s %63s", good_hex, revoked_hex) != 2) good_hex[0] = revoked_hex[0] = '\0';
            fclose(f);
        }
    } else {
        fprintf(cli->out, "revd: creating the demo hierarchy in %s\n", dir);
        if (!demo_create(cli, c, dir, good_hex, revoked_hex)) goto out;
    }
    demo_tell(cli, dir, listen, serve, good_hex, revoked_hex);
    status = 0;
out:
    ca_core_free(c);
    if (status != 0 || !serve) return status;
    fflush(cli->out);
    char a0[] = "serve", a1[] = "--dir", a3[] = "--listen";
    char *sargv[] = {a0, a1, (char *)dir, a3, (char *)listen, NULL};
    return serve_run(dir, 5, sargv);
}
