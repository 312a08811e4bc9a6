#ifndef MT_RELEASE_SIGN_H
#define MT_RELEASE_SIGN_H

#include <openssl/evp.h>

#include "release/release.h"

/*
 * `mero-tee release sign DIR --key KEY`: key-based signatures for private
 * and air-gapped releases, in the two forms cosign reads
 * (shared/specs/sigstore.md 5.1):
 *   <asset>.sig          base64 of the DER ECDSA-P256 signature over
 *                        SHA-256(asset), no newline (cosign sign-blob --key);
 *   <asset>.bundle.json  a Sigstore bundle v0.3 with
 *                        verificationMaterial.publicKey.hint =
 *                        b64(SHA-256(DER SPKI)) and messageSignature
 *                        {messageDigest {SHA2_256, b64 digest}, signature}.
 * No transparency-log entry: the key is trusted out of band.
 */

/* Load a PEM private key (PKCS#8 or SEC1, unencrypted) that must be EC P-256. MT_ERR_RELEASE_KEY.
 */
MT_WUR mt_err mt_rel_sign_key_load(const char *path, EVP_PKEY **out);

/* Sign one file: *sig_b64 and *bundle_json (NUL-terminated, mt_free). */
MT_WUR mt_err mt_rel_sign_file(EVP_PKEY *key, const char *path, char **sig_b64, char **bundle_json);

/*
 * Sign every asset of dir: regular files whose names do not start with '.'
 * and do not end in .sig, .pem or .bundle.json (at most 256), in name
 * order; the sidecars are written atomically (mode 0644), replacing older
 * ones.  *n_signed (may be NULL) counts the assets.
 */
MT_WUR mt_err mt_rel_sign_dir(const char *dir, EVP_PKEY *key, size_t *n_signed, char *why,
                              size_t why_len);

#endif
