/* libFuzzer target: a DNS response as challenge validation reads it
 * (acme_vdns_parse in acme/vdns.c: ns_initparse/ns_parserr, CNAMEs
 * followed inside the answer, TXT strings joined, A/AAAA lengths). */
#include <arpa/nameser.h>
#include <stdint.h>
#include <stdlib.h>

#include "acme/vdns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int types[3] = {ns_t_txt, ns_t_a, ns_t_aaaa};
    struct acme_vdns_ans *ans = malloc(sizeof(*ans));
    if (ans == NULL) return 0;
    for (int t = 0; t < 3; t++) {
        if (!acme_vdns_parse(data, size, "_acme-challenge.ok.test", types[t], ACME_VDNS_MAX_HOPS, ans)) continue;
        if (ans->num_rr > ACME_VDNS_MAX_RR || ans->hops > ACME_VDNS_MAX_HOPS) abort();
        for (size_t i = 0; i < ans->num_rr; i++) {
            size_t l = ans->rr_len[i];
            if (l > ACME_VDNS_RR_MAX || (types[t] == ns_t_a && l != 4) || (types[t] == ns_t_aaaa && l != 16)) abort();
        }
    }
    free(ans);
    return 0;
}
