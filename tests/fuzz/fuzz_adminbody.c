/* fuzz_adminbody: the admin API's request bodies (node/adminbody.c). The
 * first byte picks the call's kind, the rest is the body. Properties: no
 * crash or leak; a body it accepts is an object that passes the check
 * again and holds every required field; a refusal says why in one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/adminbody.c" /* a harness of the admin API's one pure piece (node/ is not in the library) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    enum adminbody_kind kind = (enum adminbody_kind)(data[0] % AB_NUM);
    char why[600] = "";
    json_t *b = adminbody_parse(kind, data + 1, size - 1, why, sizeof(why));
    if (b != NULL) {
        char again[600];
        if (!json_is_object(b) || !adminbody_check(kind, b, again, sizeof(again))) abort();
        for (const struct field *f = specs[kind]; f->name; f++)
            if (f->required && (json_object_get(b, f->name) == NULL || json_is_null(json_object_get(b, f->name))))
                abort();
        json_decref(b);
    } else if (why[0] == '\0' || strchr(why, '\n') != NULL) {
        abort();
    }
    return 0;
}
