#ifndef MT_RELEASE_FIXTURE_H
#define MT_RELEASE_FIXTURE_H

/*
 * Helpers shared by the release tests (tests/unit/test_release_*.c,
 * tests/e2e/test_release_*.c): the golden inputs of tests/golden/release as
 * an assemble request, assembling and signing a release, a fresh signing
 * key, small file writes and the removal of a test's directory.  Include
 * mt_testlib.h first (cmocka).  Every helper fails the test on error.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "release/assemble.h"
#include "release/release.h"

#define RELEASE_GOLDEN MT_SOURCE_DIR "/tests/golden/release"

/*
 * The golden inputs loaded as an assemble request: meta.json, the three node
 * and the three KMS probes, both binaries and the container SBOM.  in.out_dir
 * is left NULL; the caller may change any field of in before assembling.
 */
struct release_inputs {
    struct mt_rel_assemble_in in;
    json_t *meta, *node[MT_REL_NUM_PROFILES], *kms[MT_REL_NUM_PROFILES];
};

void release_inputs_load(struct release_inputs *ri);
void release_inputs_free(struct release_inputs *ri);

/* The golden inputs assembled under out; version NULL keeps meta.json's, else replaces it. */
void release_assemble_golden(const char *out, const char *version);

/* Sign every asset of the family directory dir with the PEM private key at priv_path. */
void release_sign_dir(const char *dir, const char *priv_path);

/* A fresh EC P-256 key pair written as PEM files. */
void release_make_key(const char *priv_path, const char *pub_path);

/* path holding exactly text (mode 0644). */
void release_write_text(const char *path, const char *text);

/* Set "mrtd" and "rtmr0".."rtmr3" of o to the registers in hex. */
void release_set_regs(json_t *o, const uint8_t mrtd[48], uint8_t rtmr[4][48]);

#endif
