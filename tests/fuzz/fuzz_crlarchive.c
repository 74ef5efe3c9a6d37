/* libFuzzer target: a CRL archive file (crl/archive), read as `revd crl
 * history` reads it: the input is the whole file. Damaged records must be
 * refused with a message; nothing may be read or written out of bounds; a
 * record the walk accepts must decompress to exactly its stated length. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crl/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cb(void *arg, const struct crl_archive_rec *r, const uint8_t *der) {
    (void)arg;
    if (r->der_len == 0 || r->der_len > CRL_ARCHIVE_MAX_DER || der == NULL) abort();
    volatile uint8_t x = der[0] ^ der[r->der_len - 1]; /* the whole length is there */
    (void)x;
    return 1;
}

static char dir[64];

static void cleanup(void) {
    char p[128];
    snprintf(p, sizeof(p), "%s/crl-archive/x.log", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/crl-archive", dir);
    rmdir(p);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (dir[0] == '\0') {
        atexit(cleanup);
        snprintf(dir, sizeof(dir), "/tmp/fuzz_crlarchive.%ld", (long)getpid());
        char sub[96];
        snprintf(sub, sizeof(sub), "%s/crl-archive", dir);
        mkdir(dir, 0700);
        mkdir(sub, 0700);
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/crl-archive/x.log", dir);
    FILE *f = fopen(path, "wb");
    if (f == NULL) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct rerr e;
    e.msg[0] = '\0';
    if (!crl_archive_each(dir, "x", 1, cb, NULL, &e) && e.msg[0] == '\0') abort(); /* a refusal says why */
    return 0;
}
