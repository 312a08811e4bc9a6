#include "testpki_fixture.h"

#include <string.h>

mt_err
testpki_verify(const struct mt_testpki_params *p, const struct testpki_run *run,
               struct mt_verdict *v)
{
    static const struct testpki_run defaults = {0, 0, 0};
    struct mt_testpki_bundle *b = NULL;
    struct mt_verifier *ver = NULL;
    struct mt_verifier_opts opts;
    mt_err e;

    if (run == NULL)
        run = &defaults;
    memset(v, 0, sizeof(*v));
    MT_GUARD(mt_testpki_bundle_new(p, &b));
    memset(&opts, 0, sizeof(opts));
    if (!run->intel_root)
        opts.root_der = mt_testpki_root_der(b->pki, &opts.root_der_len);
    opts.allow_debug = run->allow_debug;
    opts.allow_service_td = run->allow_service_td;
    /* each case stands alone: nothing cached from an earlier PKI may answer */
    opts.no_cache = 1;
    MT_GUARD_GOTO(mt_verifier_new(&opts, &ver), e, out);
    e = mt_verify_quote(ver, b->quote, b->quote_len, b->col, p->now, v);
out:
    /* the parsed quote borrows b->quote, which is about to go */
    memset(&v->quote, 0, sizeof(v->quote));
    v->quote_parsed = 0;
    mt_verifier_free(ver);
    mt_testpki_bundle_free(b);
    return e;
}
