/* TEMPORARY stub until the name-constraints branch lands. */
#include "ca/ca.h"
int ca_name_allowed(struct ca_core *c, const char *ca, const char *type, const char *value, struct rerr *e) {
    struct ca_info i;
    return ca_info_get(c, ca, &i, e) ? 1 : -1;
}
