/* Target: mt_pem_chain_parse */

/*
 * Any byte string through the PEM chain splitter.  A chain it accepts holds
 * between 1 and MT_MAX_CHAIN_CERTS certificates, each of which can be
 * hashed; the chain is freed with sk_X509_pop_free.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "dcap/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_pem_chain: contract broken: %s\n", what);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    STACK_OF(X509) *chain = NULL;
    uint8_t digest[32];
    int i, n;

    if (mt_pem_chain_parse((const char *)data, size, &chain) != MT_OK) {
        require(chain == NULL, "*out set on failure");
        ERR_clear_error();
        return 0;
    }
    require(chain != NULL, "parse returned MT_OK and NULL");
    n = sk_X509_num(chain);
    require(n >= 1 && (unsigned)n <= MT_MAX_CHAIN_CERTS, "certificate count");
    for (i = 0; i < n; i++) {
        X509 *cert = sk_X509_value(chain, i);

        require(cert != NULL, "NULL certificate in chain");
        require(mt_x509_sha256(cert, digest) == MT_OK, "sha256 of a parsed certificate");
    }
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return 0;
}
