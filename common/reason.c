#include "common/reason.h"

#include <stddef.h>
#include <strings.h>

static const char *const names[] = {
    [0] = "unspecified",          [1] = "keyCompromise",      [2] = "cACompromise",
    [3] = "affiliationChanged",   [4] = "superseded",         [5] = "cessationOfOperation",
    [6] = "certificateHold",      [8] = "removeFromCRL",      [9] = "privilegeWithdrawn",
    [10] = "aACompromise",
};

int reason_parse(const char *s, int *out) {
    for (int i = 0; i <= 10; i++) {
        if (i == 7 || i == REASON_REMOVE_FROM_CRL) continue;
        if (strcasecmp(s, names[i]) == 0) {
            *out = i;
            return 1;
        }
    }
    return 0;
}

const char *reason_name(int code) {
    if (code < 0 || code > 10) return NULL;
    return names[code];
}

const char *reason_list(void) {
    return "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
           "cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise";
}
