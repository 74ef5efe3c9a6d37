/* job: one OCSP question a shard cannot answer from its precomputed tables
 * (a nonce to echo under --nonce echo, a SHA-384 or SHA-512 CertID, a serial
 * never issued under --unknown signed), sent to the signing lane (ca/lane)
 * and sent back answered. A job belongs to its shard's fixed pool
 * (shard/server): the shard fills the question, the lane the answer; each
 * side touches it only while it holds it (the rings in between are the
 * hand-over: common/spsc.h). */
#ifndef REVD_OCSP_JOB_H
#define REVD_OCSP_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "ocsp/request.h"
#include "ocsp/response.h"

/* The largest response the lane writes: an RSA-4096 responder's
 * certificate and signature fit well within it. */
#define OCSP_JOB_RESP_MAX 8192

struct ocsp_job {
    /* The question (the shard's). */
    int shard;
    void *conn;       /* the shard's connection, opaque to the lane */
    uint64_t conn_id; /* the connection's number when asked: a closed or
                         reused connection drops the answer */
    uint32_t ca_id;   /* gen_ca.id of the issuer the CertID named */
    enum ocsp_hash hash;
    uint8_t serial[21];
    size_t serial_len;
    uint8_t nonce[OCSP_NONCE_MAX];
    size_t nonce_len; /* 0: no nonce to echo */
    int keep_alive, head_only;
    /* The answer (the lane's). status OCSP_SUCCESSFUL: resp holds a signed
     * response valid [this_update, next_update) with its ETag; otherwise the
     * shard answers status alone (unauthorized, tryLater, internalError). */
    enum ocsp_resp_status status;
    int64_t this_update, next_update;
    char etag[65];
    size_t resp_len;
    uint8_t resp[OCSP_JOB_RESP_MAX];
};

#endif
