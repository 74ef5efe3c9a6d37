/* libFuzzer target: one line of a `revd import` inventory (ca/csvrow). The
 * input is the line, without its line ending, exactly as the importer hands
 * it over: a length, no NUL. Anything may be refused; nothing may be read
 * outside the line, and what is accepted must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/csvrow.h"
#include "common/reason.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *line = (const char *)data;
    struct csvrow row;
    struct rerr e;
    e.msg[0] = '\0';
    (void)csvrow_is_header(line, size);
    if (!csvrow_parse(line, size, &row, &e)) {
        if (e.msg[0] == '\0') abort(); /* a refusal always says why */
        return 0;
    }
    if (size > CSVROW_MAX_LINE) abort();
    if (row.serial_len == 0 || row.serial_len > HEX_SERIAL_MAX) abort();
    if (row.serial[0] & 0x80) abort();                          /* positive */
    if (row.serial[0] == 0 && (row.serial_len == 1 || !(row.serial[1] & 0x80))) abort(); /* minimal */
    switch (row.status) {
    case CSVROW_GOOD:
        if (row.revoked_at != 0 || row.reason != 0) abort();
        break;
    case CSVROW_HOLD:
        if (row.reason != REASON_CERTIFICATE_HOLD) abort();
        break;
    case CSVROW_REVOKED:
        if (row.reason == REASON_CERTIFICATE_HOLD || row.reason == REASON_REMOVE_FROM_CRL) abort();
        if (reason_name(row.reason) == NULL) abort();
        break;
    default:
        abort();
    }
    if (row.cdp != NULL) {
        /* A view into the line, within it. */
        if (row.cdp < line || row.cdp_len == 0 || row.cdp_len > CSVROW_MAX_CDP ||
            (size_t)(row.cdp - line) + row.cdp_len > size)
            abort();
        if (memchr(row.cdp, ',', row.cdp_len) != NULL) abort();
    } else if (row.cdp_len != 0) {
        abort();
    }
    return 0;
}
