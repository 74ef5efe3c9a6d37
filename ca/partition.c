/* partition: CDP URLs and default partition sizes (ca/partition.h). */
#include "ca/partition.h"

#include "common/urls.h"

int partition_url(const struct ca *ca, uint32_t part, char out[URLS_MAX]) {
    if (part == URLS_PART_NONE) {
        out[0] = '\0';
        return 1;
    }
    if (part == URLS_PART_CA) return urls_crl_ca_scope(ca->base_url, ca->name, out);
    if (ca->complete_crl) return urls_crl_complete(ca->base_url, ca->name, out);
    return urls_crl_partition(ca->base_url, ca->name, part, out);
}

uint32_t partition_default_size(uint32_t max_bytes, size_t issuer_name_len, size_t url_len,
                                enum ca_key_type key) {
    /* The longest entry: SEQUENCE { INTEGER (16 octets + a possible 0x00),
     * GeneralizedTime (17, after 2049), extensions { reasonCode (14),
     * invalidityDate (26) } } = 2 + 19 + 17 + 2 + 12 + 26 = 78 octets. The
     * rest of the CRL: framing, algorithm identifiers, issuer, two times,
     * CRL number, AKI, the IDP (its URI), and the signature. */
    size_t sig = key == CA_KEY_RSA_4096 ? 512 + 5 : key == CA_KEY_RSA_3072 ? 384 + 5
                 : key == CA_KEY_RSA_2048 ? 256 + 5 : 110;
    size_t overhead = 64 + 2 * 15 + issuer_name_len + 2 * 19 + 40 + 35 + 32 + url_len + sig;
    if (max_bytes <= overhead + 78) return 1;
    return (uint32_t)((max_bytes - overhead) / 78);
}

