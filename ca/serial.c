/* serial: new certificate serial numbers (ca/serial.h). */
#include "ca/serial.h"

#include <stdlib.h>

#include <openssl/rand.h>

#include "ca/ikey.h"
#include "ca/store.h"

int serial_new(struct ca_core *c, const struct ca *ca, uint8_t out[16], struct rerr *e) {
    for (int tries = 0; tries < 8; tries++) {
        if (RAND_bytes(out, 16) != 1) return rerr_ssl(e, "the random generator failed");
        out[0] &= 0x7f; /* positive; and non-zero so it stays 16 octets */
        if (out[0] == 0) out[0] = 1;
        uint8_t key[KEY_MAX];
        size_t kl = ikey_cert(key, ca->id, out, 16);
        uint8_t *v;
        size_t vl;
        int r = store_get(c->st, key, kl, &v, &vl, e);
        if (r < 0) return 0;
        if (r == 0) return 1;
        free(v);
    }
    return rerr_set(e, "could not draw an unused serial number (the random generator is suspect)");
}

