/* PKCS#11 keys through libp11's engine. OpenSSL 3 keeps ENGINE as a
 * deprecated API; Debian 12 ships no PKCS#11 provider, so this one file uses
 * it (and the EC_KEY accessors a legacy engine key answers to). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "ca/pkcs11.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/engine.h>
#include <openssl/err.h>

static ENGINE *eng;
static char eng_module[PATH_MAX]; /* "" the engine's default */

int pkcs11_is_uri(const uint8_t *p, size_t n) { return n >= 7 && memcmp(p, "pkcs11:", 7) == 0; }

/* attr_is: the attribute [p, end) is named name ("name=value"). */
static int attr_is(const char *p, const char *end, const char *name) {
    size_t n = strlen(name);
    return (size_t)(end - p) > n && memcmp(p, name, n) == 0 && p[n] == '=';
}

int pkcs11_uri_valid(const char *uri, struct rerr *e) {
    /* The URI is not quoted back in messages: a mistyped one may hold a PIN. */
    size_t n = strnlen(uri, PKCS11_URI_MAX + 1);
    if (n > PKCS11_URI_MAX) return rerr_set(e, "the PKCS#11 URI is over %d bytes", PKCS11_URI_MAX);
    if (!pkcs11_is_uri((const uint8_t *)uri, n))
        return rerr_set(e, "the key URI does not begin with pkcs11: (RFC 7512: pkcs11:token=LABEL;object=LABEL)");
    for (size_t i = 0; i < n; i++)
        if (uri[i] <= 0x20 || uri[i] >= 0x7f)
            return rerr_set(e, "the PKCS#11 URI holds a space or a byte outside printable ASCII at %zu "
                               "(escape it as %%XX, RFC 7512)", i);
    /* The path attributes are split by ';', the query ones (after '?') by
     * '&'; a PIN is looked for after any of the three, to be sure. */
    int names_key = 0, in_query = 0;
    for (const char *p = uri + 7; *p != '\0';) {
        const char *end = p + strcspn(p, ";?&");
        if (attr_is(p, end, "pin-value") || attr_is(p, end, "pin-source"))
            return rerr_set(e, "the PKCS#11 URI carries a PIN, which would be written in the data directory: give "
                               "it in REVD_PKCS11_PIN_FILE instead");
        if (!in_query && (attr_is(p, end, "object") || attr_is(p, end, "id"))) names_key = 1;
        if (*end == '?') in_query = 1;
        p = *end != '\0' ? end + 1 : end;
    }
    if (!names_key)
        return rerr_set(e, "the PKCS#11 URI names no key: add object=LABEL or id=%%XX (see p11tool --list-privkeys)");
    return 1;
}

static int engine_up(const char *module, struct rerr *e) {
    const char *want = module != NULL ? module : "";
    if (eng != NULL) {
        if (strcmp(want, eng_module) == 0) return 1;
        return rerr_set(e, "REVD_PKCS11_MODULE changed from '%s' to '%s' in one process", eng_module, want);
    }
    if (module != NULL && access(module, R_OK) != 0)
        return rerr_set(e, "REVD_PKCS11_MODULE: %s cannot be read (the token's PKCS#11 library, e.g. "
                           "/usr/lib/softhsm/libsofthsm2.so)", module);
    OPENSSL_init_crypto(OPENSSL_INIT_ENGINE_DYNAMIC, NULL);
    ENGINE *x = ENGINE_by_id("pkcs11");
    if (x == NULL) {
        ERR_clear_error();
        return rerr_set(e, "OpenSSL's pkcs11 engine is not installed: apt-get install libengine-pkcs11-openssl");
    }
    ENGINE_ctrl_cmd_string(x, "QUIET", NULL, 1); /* its own messages would break our one-line errors */
    if ((module != NULL && ENGINE_ctrl_cmd_string(x, "MODULE_PATH", module, 0) != 1) || ENGINE_init(x) != 1) {
        ENGINE_free(x);
        return rerr_ssl(e, "the pkcs11 engine did not start with module %s", module ? module : "(default)");
    }
    eng = x;
    snprintf(eng_module, sizeof(eng_module), "%s", want);
    return 1;
}

EVP_PKEY *pkcs11_load(const char *module, const char *pin, const char *uri, const char *what,
                      struct rerr *e) {
    struct rerr ue;
    if (!pkcs11_uri_valid(uri, &ue)) {
        rerr_set(e, "%s: %s", what, ue.msg);
        return NULL;
    }
    if (pin == NULL) {
        rerr_set(e, "%s: the key is in a PKCS#11 token (%.200s): give the token's user PIN "
                    "(REVD_PKCS11_PIN_FILE, a file holding it)", what, uri);
        return NULL;
    }
    if (!engine_up(module, e)) return NULL;
    if (ENGINE_ctrl_cmd_string(eng, "PIN", pin, 0) != 1) {
        rerr_ssl(e, "%s: the pkcs11 engine refused the PIN", what);
        return NULL;
    }
    EVP_PKEY *k = ENGINE_load_private_key(eng, uri, NULL, NULL);
    if (k == NULL) {
        ERR_clear_error();
        rerr_set(e, "%s: no private key %.300s in the token of %s, or its PIN was refused: check the URI with "
                    "p11tool --provider MODULE --login --list-privkeys, and REVD_PKCS11_PIN_FILE",
                 what, uri, eng_module[0] ? eng_module : "the default module");
    }
    return k;
}

int pkcs11_key_type(EVP_PKEY *k, enum ca_key_type *t, struct rerr *e) {
    int id = EVP_PKEY_get_base_id(k);
    if (id == EVP_PKEY_EC) {
        const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(k);
        const EC_GROUP *g = ec ? EC_KEY_get0_group(ec) : NULL;
        int nid = g ? EC_GROUP_get_curve_name(g) : NID_undef;
        if (nid == NID_X9_62_prime256v1) *t = CA_KEY_EC_P256;
        else if (nid == NID_secp384r1) *t = CA_KEY_EC_P384;
        else return rerr_set(e, "the token's EC key is on %s: revd's CA keys are P-256 or P-384",
                             nid == NID_undef ? "an unknown curve" : OBJ_nid2sn(nid));
        return 1;
    }
    if (id == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(k);
        if (bits == 2048) *t = CA_KEY_RSA_2048;
        else if (bits == 3072) *t = CA_KEY_RSA_3072;
        else if (bits == 4096) *t = CA_KEY_RSA_4096;
        else return rerr_set(e, "the token's RSA key has %d bits: revd's CA keys have 2048, 3072 or 4096", bits);
        return 1;
    }
    return rerr_set(e, "the token's key is neither EC nor RSA");
}

void pkcs11_release(void) {
    if (eng == NULL) return;
    ENGINE_finish(eng);
    ENGINE_free(eng);
    eng = NULL;
    eng_module[0] = '\0';
}
