/* serial: new certificate serial numbers. CA-core thread (reads the index). */
#ifndef REVD_CA_SERIAL_H
#define REVD_CA_SERIAL_H

#include <stdint.h>

#include "ca/core.h"

/* serial_new draws a 16-octet positive serial unused in ca. Returns 1, or
 * 0 with e set. */
int serial_new(struct ca_core *c, const struct ca *ca, uint8_t out[16], struct rerr *e);

#endif
