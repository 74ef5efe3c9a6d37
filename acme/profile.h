/* profile: the ACME profiles extension (draft-aaron-acme-profiles): the
 * certificate kinds an order may name ("profile"), each a revd template,
 * listed in the directory's meta.profiles. An EAB key says which of them
 * its account may use (the first is its default). Pure; any thread. */
#ifndef REVD_ACME_PROFILE_H
#define REVD_ACME_PROFILE_H

#include <jansson.h>

#include "common/rerr.h"

struct acme_profile {
    const char *name;   /* the profile, and the revd template it issues with */
    const char *desc;
    int max_days;       /* the longest validity; 0: acme-max-days */
};

/* acme_profile_find: the profile named name, or NULL. */
const struct acme_profile *acme_profile_find(const char *name);

/* acme_profiles_json: {"name": "description", ...} (a new object). */
json_t *acme_profiles_json(void);

/* acme_profiles_parse reads "server,short-lived" (1 to 8 names, each a
 * profile, no repeats) into a new array. 1, or 0 with e set. */
int acme_profiles_parse(const char *list, json_t **out, struct rerr *e);

#endif
