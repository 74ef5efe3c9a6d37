/* ca/internal.h: every header of the CA core's units at once, for the
 * unit tests and fuzz targets that reach inside ca/ (no file of revd
 * includes it: a unit of ca/ includes the headers of the concepts it uses,
 * and ocsp/ and crl/ go through ca/view.h and ca/signer.h):
 *
 *   ca/core.h       struct ca, struct ca_core; core_find, core_add_ca, ...
 *   ca/ikey.h       the index's key layout (K_*, ikey_*)
 *   ca/crec.h       the certificate record, the revocation entry value
 *   ca/carec.h      the CA record (JSON)
 *   ca/oplog.h      the operations log (oplog_add, oplog_commit, ...)
 *   ca/events.h     the events the log's records make
 *   ca/keyring.h    passphrase, PKCS#11, a CA's private key
 *   ca/serial.h     new serials
 *   ca/partition.h  CDP URLs and partition sizes
 *   ca/changes.h    what changed in what is published
 *   ca/chlog.h      the durable change log (chlog_add with every status change)
 *   ca/certbuild.h  building and signing certificates; X.509 helpers
 *   ca/issue.h      CSR and SAN parsing
 *   ca/revoke.h     the chain check of a new issuance
 *   common/bytes.h  big-endian integers
 *
 * Nothing is declared here; new code should not include it. */
#ifndef REVD_CA_INTERNAL_H
#define REVD_CA_INTERNAL_H

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/carec.h"
#include "ca/certbuild.h"
#include "ca/changes.h"
#include "ca/chlog.h"
#include "ca/core.h"
#include "ca/crec.h"
#include "ca/events.h"
#include "ca/ikey.h"
#include "ca/issue.h"
#include "ca/keyring.h"
#include "ca/oplog.h"
#include "ca/partition.h"
#include "ca/revoke.h"
#include "ca/serial.h"
#include "ca/store.h"
#include "common/bytes.h"
#include "common/hex.h"

#endif
