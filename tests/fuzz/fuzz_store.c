/* fuzz_store: a response store file (ocsp/store.h), read back from the
 * disk where anyone with the data directory's rights could have changed
 * it. The input is written to a file and opened. Properties: no crash or
 * leak, whatever the bytes (lengths, offsets, counts all checked before
 * use); a record ocsp_store_read finds is the serial asked for. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ocsp/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static int write_input(const uint8_t *data, size_t size) {
    if (path[0] == '\0') snprintf(path, sizeof(path), "/tmp/fuzz_store.%d", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    close(fd);
    return done == size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!write_input(data, size)) return 0;
    struct rerr e;
    struct ocsp_store *s = ocsp_store_open(path, NULL, &e);
    unlink(path);
    if (s == NULL) return 0;
    struct ocsp_store_scan *sc = ocsp_store_scan_new(s, &e);
    uint8_t *buf = malloc(STORE_RUN_MAX);
    uint8_t last[21], out[STORE_REC_MAX];
    size_t last_len = 0, len;
    struct ocsp_store_rec r, again;
    int got;
    while (sc != NULL && buf != NULL && (got = ocsp_store_scan_next(sc, &r, &e)) == 1) {
        memcpy(last, r.serial, r.serial_len);
        last_len = r.serial_len;
        for (int h = 0; h < 2; h++) (void)ocsp_store_assemble(s, &r, h, out, sizeof(out), &len);
        got = ocsp_store_read(s, last, last_len, buf, &again, &e);
        if (got == 1 && (again.serial_len != last_len || memcmp(again.serial, last, last_len) != 0)) abort();
    }
    ocsp_store_scan_free(sc);
    free(buf);
    ocsp_store_put(s);
    return 0;
}
