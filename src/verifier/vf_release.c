#include "verifier/verifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "release/fetch.h"
#include "release/release.h"
#include "release/verify.h"
#include "util/mt_hex.h"
#include "vf_internal.h"

/*
 * releaseTag: the release directory (VERIFIER_RELEASE_DIR/<tag>, else
 * downloaded from VERIFIER_RELEASE_BASE_URL/<tag>) verified with the
 * release library (checksums, schemas, consistency, signatures against
 * VERIFIER_RELEASE_TRUSTED_ROOT / VERIFIER_RELEASE_KEY), then the quote's
 * MRTD and RTMR0-3 compared with each profile's allowlists.
 */

static const char *const reg_names[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};

/* The allowlist of register r for profile p, or NULL. */
static const json_t *
allowlist(const struct mt_rel_loaded *l, enum mt_rel_family f, int p, int r)
{
    char key[32];
    const json_t *prof;

    if (f == MT_REL_KMS) {
        if (l->kms.policy[p] == NULL)
            return NULL;
        snprintf(key, sizeof(key), "kms_allowed_%s", reg_names[r]);
        return json_object_get(json_object_get(l->kms.policy[p], "policy"), key);
    }
    if (l->node.mrtds == NULL)
        return NULL;
    prof = json_object_get(json_object_get(l->node.mrtds, "profiles"), mt_rel_profiles[p]);
    snprintf(key, sizeof(key), "allowed_%s", reg_names[r]);
    return json_object_get(prof, key);
}

static mt_err
no_trust(void *arg, const struct mt_rel_asset *asset, char *why, size_t why_len)
{
    (void)arg;
    (void)asset;
    snprintf(why, why_len,
             "no usable release trust material (VERIFIER_RELEASE_TRUSTED_ROOT / "
             "VERIFIER_RELEASE_KEY)");
    return MT_ERR_RELEASE_NO_TRUST;
}

static int
listed(const json_t *list, const char *hex)
{
    size_t i;
    json_t *v;

    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && strcasecmp(json_string_value(v), hex) == 0)
            return 1;
    }
    return 0;
}

/*
 * compose_policy: a KMS release pins the compose hash of each profile's
 * CVM in policy.kms_allowed_event_payload (reference 3.1; the reference's
 * page compared it with the compose hash read from an unverified log,
 * defect 24).  Here the compose hash comes from the log that replayed to
 * the quote.  Node releases carry no compose hash (published-mrtds.json
 * has none), and an empty list means the release does not pin one.
 */
static void
compose_policy(const struct mt_rel_loaded *l, enum mt_rel_family f, int p, const char *compose_hash,
               json_t *checks)
{
    const json_t *list;

    if (f != MT_REL_KMS) {
        mtv_check(checks, "compose_policy", "skipped", NULL,
                  "node releases carry no compose hash allowlist");
        return;
    }
    if (p < 0) {
        mtv_check(checks, "compose_policy", "skipped", NULL, "no profile to compare with");
        return;
    }
    list =
        json_object_get(json_object_get(l->kms.policy[p], "policy"), "kms_allowed_event_payload");
    if (!json_is_array(list) || json_array_size(list) == 0) {
        mtv_check(checks, "compose_policy", "skipped",
                  json_pack("{s:s}", "profile", mt_rel_profiles[p]),
                  "the %s policy pins no compose hash (kms_allowed_event_payload is empty)",
                  mt_rel_profiles[p]);
        return;
    }
    if (compose_hash == NULL) {
        mtv_check(checks, "compose_policy", "fail",
                  json_pack("{s:s,s:O}", "profile", mt_rel_profiles[p], "allowed", list),
                  "no compose hash from a verified event log to compare with the %s allowlist",
                  mt_rel_profiles[p]);
        return;
    }
    if (listed(list, compose_hash))
        mtv_check(checks, "compose_policy", "pass",
                  json_pack("{s:s,s:s,s:O}", "profile", mt_rel_profiles[p], "composeHash",
                            compose_hash, "allowed", list),
                  "the verified compose hash is in the %s kms_allowed_event_payload",
                  mt_rel_profiles[p]);
    else
        mtv_check(checks, "compose_policy", "fail",
                  json_pack("{s:s,s:s,s:O}", "profile", mt_rel_profiles[p], "composeHash",
                            compose_hash, "allowed", list),
                  "the verified compose hash is not in the %s kms_allowed_event_payload",
                  mt_rel_profiles[p]);
}

mt_err
mtv_release_checks(struct mtv_service *s, const struct mtv_request *rq, const struct mt_quote *q,
                   const char *compose_hash, json_t *checks, json_t **release)
{
    const struct mtv_config *c = mtv_service_config(s);
    struct mt_rel_trust_cfg tc;
    struct mt_rel_report rep;
    struct mt_rel_loaded loaded;
    enum mt_rel_family fam;
    char dir[MTV_MAX_STR + 80], url[MTV_MAX_STR + 80], why[512], hex[5][97], tmp[64] = "";
    const uint8_t *regs[5];
    json_t *matched, *ev, *failed;
    int p, r, chosen = -1, ok, tmp_dir = 0;
    size_t nfail = 0, i, nsig = 0;
    mt_err e;

    *release = NULL;
    if (rq->release_tag[0] == '\0') {
        mtv_check(checks, "release", "skipped", NULL, "no releaseTag given");
        mtv_check(checks, "measurements", "skipped", NULL, "no releaseTag given");
        mtv_check(checks, "profile", "skipped", NULL, "no releaseTag given");
        mtv_check(checks, "compose_policy", "skipped", NULL, "no releaseTag given");
        return MT_OK;
    }
    fam = strncmp(rq->release_tag, "mero-kms-v", 10) == 0 ? MT_REL_KMS : MT_REL_NODE;
    memset(&loaded, 0, sizeof(loaded));
    mt_rel_report_init(&rep);
    why[0] = '\0';
    if (c->release_dir[0] != '\0') {
        snprintf(dir, sizeof(dir), "%s/%s", c->release_dir, rq->release_tag);
        e = access(dir, R_OK | X_OK) == 0 ? MT_OK : MT_ERR_RELEASE_ASSET_MISSING;
        if (e != MT_OK)
            snprintf(why, sizeof(why), "no directory %s in VERIFIER_RELEASE_DIR", rq->release_tag);
    } else if (c->release_base_url[0] != '\0') {
        snprintf(tmp, sizeof(tmp), "/tmp/mero-verifier-rel-XXXXXX");
        e = mkdtemp(tmp) != NULL ? MT_OK : MT_ERR_IO;
        tmp_dir = e == MT_OK;
        snprintf(dir, sizeof(dir), "%s", tmp);
        snprintf(url, sizeof(url), "%s/%s", c->release_base_url, rq->release_tag);
        if (e == MT_OK)
            e = mt_rel_fetch_release(url, fam, dir, why, sizeof(why));
    } else {
        e = MT_ERR_RELEASE_ASSET_MISSING;
        snprintf(why, sizeof(why),
                 "neither VERIFIER_RELEASE_DIR nor VERIFIER_RELEASE_BASE_URL "
                 "is configured");
    }
    if (e == MT_OK) {
        memset(&tc, 0, sizeof(tc));
        tc.trusted_root = c->release_trusted_root[0] != '\0' ? c->release_trusted_root : NULL;
        tc.key = c->release_key[0] != '\0' ? c->release_key : NULL;
        e = mt_rel_verify_release(&tc, dir, fam, rq->release_tag + 10, &rep, &loaded, why,
                                  sizeof(why));
        if (e == MT_ERR_RELEASE_NO_TRUST || (e != MT_OK && e != MT_ERR_NOMEM)) {
            /* No trust material: verify the rest; signatures are reported as unverified. */
            mt_rel_report_free(&rep);
            mt_rel_loaded_free(&loaded);
            memset(&loaded, 0, sizeof(loaded));
            mt_rel_report_init(&rep);
            {
                struct mt_rel_verify_opts vo = {0};
                vo.dir = dir;
                vo.family = fam;
                vo.version = rq->release_tag + 10;
                vo.verify_sig = no_trust;
                e = mt_rel_verify(&vo, &rep, &loaded);
            }
        }
    }
    if (e == MT_ERR_NOMEM)
        goto out;
    if (e != MT_OK) {
        mtv_check(checks, "release", "fail", json_pack("{s:s}", "code", mt_err_code(e)),
                  "release %s unavailable: %s", rq->release_tag, why);
        mtv_check(checks, "measurements", "skipped", NULL, "the release is unavailable");
        mtv_check(checks, "profile", "skipped", NULL, "the release is unavailable");
        mtv_check(checks, "compose_policy", "skipped", NULL, "the release is unavailable");
        *release = json_pack("{s:s,s:s?,s:[]}", "tag", rq->release_tag, "profile",
                             rq->profile[0] ? rq->profile : NULL, "matchedProfiles");
        e = MT_OK;
        goto out;
    }
    failed = json_array();
    for (i = 0; i < rep.n; i++) {
        if (rep.v[i].err == MT_OK)
            continue;
        nfail++;
        if (strncmp(rep.v[i].name, "signature:", 10) == 0)
            nsig++;
        if (failed != NULL && json_array_size(failed) < 20)
            json_array_append_new(failed, json_pack("{s:s,s:s,s:s}", "name", rep.v[i].name, "code",
                                                    mt_err_code(rep.v[i].err), "detail",
                                                    rep.v[i].detail ? rep.v[i].detail : ""));
    }
    /* signatures: verified (all passed), unverified (no trust material), failed. */
    ev = json_pack("{s:s,s:I,s:I,s:o,s:s}", "tag", rq->release_tag, "checks", (json_int_t)rep.n,
                   "failed", (json_int_t)nfail, "failures", failed != NULL ? failed : json_array(),
                   "signatures",
                   nsig == 0                                                         ? "verified"
                   : c->release_trusted_root[0] == '\0' && c->release_key[0] == '\0' ? "unverified"
                                                                                     : "failed");
    if (nfail == 0)
        mtv_check(checks, "release", "pass", ev, "%zu release checks passed, signatures included",
                  rep.n);
    else if (nsig == nfail)
        mtv_check(checks, "release", "fail", ev,
                  "the release documents are consistent but %zu signature checks did not verify "
                  "(no usable trust material or signatures): not trusted",
                  nsig);
    else
        mtv_check(checks, "release", "fail", ev, "%zu of %zu release checks failed", nfail, rep.n);

    regs[0] = q->td.mr_td;
    for (r = 0; r < 4; r++)
        regs[r + 1] = q->td.rt_mr[r];
    for (r = 0; r < 5; r++)
        mt_hex_encode(regs[r], 48, hex[r]);
    matched = json_array();
    for (p = 0; p < MT_REL_NUM_PROFILES; p++) {
        ok = 1;
        for (r = 0; r < 5 && ok; r++)
            ok = listed(allowlist(&loaded, fam, p, r), hex[r]);
        if (ok) {
            json_array_append_new(matched, json_string(mt_rel_profiles[p]));
            if (chosen < 0)
                chosen = p;
        }
    }
    if (rq->profile[0] != '\0')
        chosen = mt_rel_profile_index(rq->profile);
    ev = json_object();
    for (r = 0; chosen >= 0 && r < 5; r++) {
        const json_t *l = allowlist(&loaded, fam, chosen, r);
        json_object_set_new(ev, reg_names[r],
                            json_pack("{s:s,s:O?,s:b}", "observed", hex[r], "allowed", l, "match",
                                      listed(l, hex[r])));
    }
    if (chosen < 0) {
        mtv_check(checks, "measurements", "fail", ev,
                  "MRTD and RTMR0-3 match no profile's allowlists in %s", rq->release_tag);
        mtv_check(checks, "profile", "fail", json_pack("{s:O}", "matchedProfiles", matched),
                  "no profile matches");
    } else {
        ok = 1;
        for (r = 0; r < 5; r++)
            ok &= listed(allowlist(&loaded, fam, chosen, r), hex[r]);
        if (ok)
            mtv_check(checks, "measurements", "pass", ev,
                      "MRTD and RTMR0-3 are in the %s allowlists of %s", mt_rel_profiles[chosen],
                      rq->release_tag);
        else
            mtv_check(checks, "measurements", "fail", ev,
                      "the measurements are not in the %s allowlists of %s",
                      mt_rel_profiles[chosen], rq->release_tag);
        if (rq->profile[0] == '\0')
            mtv_check(checks, "profile", "pass", json_pack("{s:O}", "matchedProfiles", matched),
                      "inferred profile %s", mt_rel_profiles[chosen]);
        else if (ok)
            mtv_check(checks, "profile", "pass", json_pack("{s:O}", "matchedProfiles", matched),
                      "the requested profile %s matches", rq->profile);
        else
            mtv_check(checks, "profile", "fail", json_pack("{s:O}", "matchedProfiles", matched),
                      "the requested profile %s does not match (matches: %zu profiles)",
                      rq->profile, json_array_size(matched));
    }
    compose_policy(&loaded, fam, chosen, compose_hash, checks);
    *release = json_pack("{s:s,s:s?,s:o}", "tag", rq->release_tag, "profile",
                         chosen >= 0 ? mt_rel_profiles[chosen] : NULL, "matchedProfiles", matched);
    e = MT_OK;
out:
    mt_rel_report_free(&rep);
    mt_rel_loaded_free(&loaded);
    if (tmp_dir) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            (void)0;
    }
    return e;
}
