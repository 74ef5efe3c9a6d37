/* job: one OCSP question a shard cannot answer from its precomputed tables
 * (a nonce to echo under --nonce echo, a SHA-384 or SHA-512 CertID, a serial
 * never issued under --unknown signed, a request with several CertIDs of one
 * issuer), sent to the signing lane (ocsp/lane.h), or a response to read
 * from a CA's store (OCSP_JOB_READ: ocsp/reader.h), and sent back answered. A job belongs to its shard's fixed pool
 * (ocsp/answer.c): the shard fills the question, the lane the answer; each
 * side touches it only while it holds it (the rings in between are the
 * hand-over: common/spsc.h). */
#ifndef REVD_OCSP_JOB_H
#define REVD_OCSP_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "common/etag.h"

#include "ocsp/request.h"
#include "ocsp/response.h"

/* The room the lane signs in: the builder (ocsp_response_sign) uses half for
 * the signed bytes and half for the response, so a response is at most 6
 * KiB. The largest: OCSP_JOB_MAX_CERTS SingleResponses of SHA-512 CertIDs
 * with 21-octet serials, revoked with a reason (236 octets each, 1,888),
 * a 128-octet nonce, an RSA-4096 responder's certificate and signature:
 * 3,966 octets with test_ocsp_response's small responder certificate, a few
 * hundred more with a real one's extensions and names, past the 4 KiB that
 * the 8 KiB buffer left before a job could carry several CertIDs. */
#define OCSP_JOB_RESP_MAX 12288

/* The CertIDs one job answers together (a request with several: one
 * response, a SingleResponse each). */
#define OCSP_JOB_MAX_CERTS 8

struct ocsp_job_cert {
    enum ocsp_hash hash;
    uint8_t serial[21];
    size_t serial_len;
};

enum ocsp_job_kind { OCSP_JOB_SIGN, OCSP_JOB_READ };

#define OCSP_JOB_UNKNOWN_IF_ANY 2

struct ocsp_store;

struct ocsp_job {
    /* The question (the shard's). */
    enum ocsp_job_kind kind;
    struct ocsp_store *store; /* OCSP_JOB_READ: the store to read certs[0]
                                 in; a reference, dropped by the reader */
    int shard;
    void *conn;       /* the shard's connection, opaque to the lane */
    uint64_t conn_id; /* the connection's number when asked: a closed or
                         reused connection drops the answer */
    uint32_t ca_id;   /* gen_ca.id of the issuer the CertIDs named */
    size_t num_certs; /* 1..OCSP_JOB_MAX_CERTS, in the request's order */
    struct ocsp_job_cert certs[OCSP_JOB_MAX_CERTS];
    int unknown_ok;   /* a serial never issued is answered "unknown" (beside
                         a known one in a request with several), even
                         without --unknown signed; OCSP_JOB_UNKNOWN_IF_ANY:
                         so when the lane finds one of them issued */
    uint8_t nonce[OCSP_NONCE_MAX];
    size_t nonce_len; /* 0: no nonce to echo */
    int keep_alive, head_only;
    /* The answer (the lane's). status OCSP_SUCCESSFUL: resp holds a signed
     * response valid [this_update, next_update) with its ETag; otherwise the
     * shard answers status alone (unauthorized, tryLater, internalError).
     * With several CertIDs, every one is answered or the status is not
     * successful. */
    enum ocsp_resp_status status;
    int found;           /* OCSP_JOB_READ: the store has the serial */
    uint32_t store_uid;  /* OCSP_JOB_READ: the store read (a cache's key) */
    size_t stripped_len; /* OCSP_JOB_READ: resp[0..stripped_len) is the
                            response without the store's suffix (== resp_len:
                            none stripped) */
    int64_t this_update, next_update;
    char etag[ETAG_LEN + 1];
    size_t resp_len;
    uint8_t resp[OCSP_JOB_RESP_MAX];
};

#endif
