/* changes: what changed in what is published since ca_take_changes (ca/ca.h)
 * last ran, so that the serving process re-signs only that. CA-core thread. */
#ifndef REVD_CA_CHANGES_H
#define REVD_CA_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "ca/core.h"

/* changes_note notes that serial of ca has a new status (its responses
 * must be re-signed); changes_all that everything must be. Past a cap (or
 * out of memory) a note becomes changes_all. */
void changes_note(struct ca_core *c, const struct ca *ca, const uint8_t *serial, size_t slen);
void changes_all(struct ca_core *c);

#endif
