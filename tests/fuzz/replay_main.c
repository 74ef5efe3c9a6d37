/* A main() for libFuzzer targets built without libFuzzer: feeds each file
 * named on the command line to LLVMFuzzerTestOneInput once. Used to replay
 * the corpora under ASan+UBSan in every test run (gcc or clang). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
            if (len == cap) {
                cap = cap ? cap * 2 : 4096;
                uint8_t *n = realloc(buf, cap);
                if (n == NULL) return 1;
                buf = n;
            }
            size_t r = fread(buf + len, 1, cap - len, f);
            if (r == 0) break;
            len += r;
        }
        fclose(f);
        /* An exact-size copy, so an over-read is caught by ASan. */
        uint8_t *exact = malloc(len ? len : 1);
        if (exact == NULL) return 1;
        for (size_t j = 0; j < len; j++) exact[j] = buf[j];
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    return 0;
}
