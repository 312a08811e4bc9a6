/* Target: mt_sigstore_trust_parse */

/*
 * Any byte string as a trusted_root.json.  Contracts: *out is set exactly
 * when MT_OK is returned; a parsed root has at least its tlogs' keys, every
 * tlog window has a start, and every CA has an anchor; errors are only the
 * documented ones.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sigstore/sig_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_sigstore_trusted_root: contract broken: %s\n", what);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mt_sigstore_trust *t = NULL;
    size_t i;
    mt_err e;

    e = mt_sigstore_trust_parse(data, size, &t);
    if (e != MT_OK) {
        require(t == NULL, "*out set on failure");
        require(e == MT_ERR_SIGSTORE_TRUST_ROOT || e == MT_ERR_TOO_LARGE || e == MT_ERR_NOMEM,
                "undocumented error");
        return 0;
    }
    require(t != NULL, "MT_OK without a root");
    for (i = 0; i < t->n_tlogs; i++) {
        require(t->tlogs[i].key != NULL, "tlog without a key");
        require(t->tlogs[i].valid.start_ms != INT64_MIN, "tlog window without a start");
        require(t->tlogs[i].valid.start_ms <= t->tlogs[i].valid.end_ms, "inverted window");
    }
    for (i = 0; i < t->n_ctlogs; i++)
        require(t->ctlogs[i].key != NULL, "ctlog without a key");
    for (i = 0; i < t->n_cas; i++)
        require(t->cas[i].anchor != NULL && t->cas[i].intermediates != NULL, "CA without anchor");
    mt_sigstore_trust_free(t);
    return 0;
}
