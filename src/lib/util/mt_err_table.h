/*
 * The one table of errors (STYLE.md section 4 item 1).  Each row is
 *   X(ENUM, "stable_code", http_status, "reference_tag", "message")
 * The stable code is what JSON output and logs carry; it never changes once
 * released.  The reference tag is the mero-kms-phala error tag
 * (mero-tee-reference.md section 1.8) used when the error reaches an HTTP
 * client; rows that never do carry "".  Rows are grouped by category.
 *
 * Verification messages quote dcap-qvl's wording where it has one
 * (dcap-verify.md section 2), so operators can match them to upstream issues.
 */

/* general */
X(MT_OK, "ok", 200, "", "ok")
X(MT_ERR_NOMEM, "out_of_memory", 500, "", "out of memory")
X(MT_ERR_TOO_LARGE, "too_large", 413, "", "input exceeds its size limit")
X(MT_ERR_TRUNCATED, "truncated", 400, "", "input is truncated")
X(MT_ERR_TRAILING, "trailing_data", 400, "", "unexpected trailing data")
X(MT_ERR_HEX, "bad_hex", 400, "", "invalid hexadecimal")
X(MT_ERR_BASE64, "bad_base64", 400, "", "invalid base64")
X(MT_ERR_JSON, "bad_json", 400, "", "malformed JSON")
X(MT_ERR_JSON_FIELD, "bad_json_field", 422, "", "missing or mistyped JSON field")
X(MT_ERR_IO, "io_error", 500, "", "input/output error")
X(MT_ERR_ARG, "bad_argument", 400, "", "invalid argument")
X(MT_ERR_TIME, "bad_time", 400, "", "invalid or out-of-range time")
X(MT_ERR_CRYPTO, "crypto_error", 500, "", "cryptographic library failure")
X(MT_ERR_INTERNAL, "internal_error", 500, "", "internal error")
X(MT_ERR_NETWORK, "network_error", 502, "", "network request failed")
X(MT_ERR_HTTP_STATUS, "http_status", 502, "", "unexpected HTTP status")

/* quote parsing; dcap-verify.md section 1 */
X(MT_ERR_QUOTE_DECODE, "quote_decode", 401, "attestation_verification_failed",
  "Failed to decode quote")
X(MT_ERR_QUOTE_VERSION, "quote_version", 401, "attestation_verification_failed",
  "Unsupported quote version")
X(MT_ERR_QUOTE_KEY_TYPE, "quote_key_type", 401, "attestation_verification_failed",
  "Unsupported DCAP attestation key type")
X(MT_ERR_QUOTE_TEE_TYPE, "quote_tee_type", 401, "attestation_verification_failed",
  "Unsupported TEE type for the quote version")
X(MT_ERR_QUOTE_VENDOR, "quote_vendor_id", 401, "attestation_verification_failed",
  "Unknown QE vendor ID")
X(MT_ERR_QUOTE_BODY_TYPE, "quote_body_type", 401, "attestation_verification_failed",
  "Unsupported quote body type")
X(MT_ERR_QUOTE_BODY_SIZE, "quote_body_size", 401, "attestation_verification_failed",
  "Quote body size does not match its body type")
X(MT_ERR_QUOTE_CERT_TYPE, "quote_cert_type", 401, "attestation_verification_failed",
  "Unsupported DCAP PCK cert format")
X(MT_ERR_QUOTE_QE_AUTH_LEN, "quote_qe_auth_len", 401, "attestation_verification_failed",
  "Invalid QE auth data length")
X(MT_ERR_QUOTE_MOCK_SHORT, "mock_quote_short", 401, "attestation_verification_failed",
  "Mock quote too short")

/* collateral; dcap-verify.md section 3 */
X(MT_ERR_COLLATERAL_FORMAT, "collateral_format", 401, "attestation_verification_failed",
  "Collateral is malformed")
X(MT_ERR_PEM, "pem_format", 401, "attestation_verification_failed",
  "Malformed PEM certificate chain")
X(MT_ERR_TCB_INFO_FORMAT, "tcb_info_format", 401, "attestation_verification_failed",
  "Failed to decode TcbInfo")
X(MT_ERR_QE_IDENTITY_FORMAT, "qe_identity_format", 401, "attestation_verification_failed",
  "Failed to decode QE Identity")

/* verification; dcap-verify.md section 2, in verification order */
X(MT_ERR_ROOT_PIN, "untrusted_root", 401, "attestation_verification_failed",
  "Certificate chain does not end at the pinned root")
X(MT_ERR_ROOT_CRL, "root_crl", 401, "attestation_verification_failed",
  "Root CA CRL is invalid, expired or revokes the root")
X(MT_ERR_TCB_INFO_NOT_YET_VALID, "tcb_info_not_yet_valid", 401, "attestation_verification_failed",
  "TCBInfo issue date is in the future")
X(MT_ERR_TCB_INFO_EXPIRED, "tcb_info_expired", 401, "attestation_verification_failed",
  "TCBInfo expired")
X(MT_ERR_TCB_INFO_CHAIN, "tcb_info_chain", 401, "attestation_verification_failed",
  "Failed to verify the TCB Info signing chain")
X(MT_ERR_TCB_INFO_SIGNATURE, "tcb_info_signature", 401, "attestation_verification_failed",
  "Signature is invalid for tcb_info in quote_collateral")
X(MT_ERR_QE_IDENTITY_NOT_YET_VALID, "qe_identity_not_yet_valid", 401,
  "attestation_verification_failed", "QE Identity issue date is in the future")
X(MT_ERR_QE_IDENTITY_EXPIRED, "qe_identity_expired", 401, "attestation_verification_failed",
  "QE Identity expired")
X(MT_ERR_QE_IDENTITY_CHAIN, "qe_identity_chain", 401, "attestation_verification_failed",
  "Failed to verify the QE Identity signing chain")
X(MT_ERR_QE_IDENTITY_SIGNATURE, "qe_identity_signature", 401, "attestation_verification_failed",
  "Signature is invalid for qe_identity in quote_collateral")
X(MT_ERR_QE_IDENTITY_TYPE, "qe_identity_type_mismatch", 401, "attestation_verification_failed",
  "Unsupported QE Identity id/version for the quote TEE type")
X(MT_ERR_PCK_CHAIN, "pck_chain", 401, "attestation_verification_failed",
  "Failed to verify certificate chain")
X(MT_ERR_PCK_CRL_EXPIRED, "pck_crl_expired", 401, "attestation_verification_failed",
  "Failed to verify certificate chain: PCK CRL expired")
X(MT_ERR_PCK_CRL_NOT_YET_VALID, "pck_crl_not_yet_valid", 401, "attestation_verification_failed",
  "Failed to verify certificate chain: PCK CRL not yet valid")
X(MT_ERR_PCK_CRL_NOT_AUTHORITATIVE, "pck_crl_not_authoritative", 401,
  "attestation_verification_failed",
  "Failed to verify certificate chain: no authoritative CRL (unknown revocation status)")
X(MT_ERR_PCK_CRL_SIGNATURE, "pck_crl_signature", 401, "attestation_verification_failed",
  "Failed to verify certificate chain: CRL signature invalid")
X(MT_ERR_CERT_REVOKED, "cert_revoked", 401, "attestation_verification_failed",
  "Failed to verify certificate chain: certificate revoked")
X(MT_ERR_CERT_EXPIRED, "cert_expired", 401, "attestation_verification_failed",
  "Failed to verify certificate chain: certificate expired or not yet valid")
X(MT_ERR_CA_AS_LEAF, "ca_used_as_end_entity", 401, "attestation_verification_failed",
  "CaUsedAsEndEntity: a CA certificate is used as the leaf")
X(MT_ERR_PCK_EXTENSION, "pck_extension", 401, "attestation_verification_failed",
  "Invalid Intel SGX extension in the PCK certificate")
X(MT_ERR_QE_REPORT_SIGNATURE, "qe_report_signature", 401, "attestation_verification_failed",
  "Signature is invalid for qe_report in quote")
X(MT_ERR_QE_REPORT_HASH, "qe_report_hash", 401, "attestation_verification_failed",
  "QE report hash mismatch")
X(MT_ERR_QE_MRSIGNER, "qe_mrsigner", 401, "attestation_verification_failed", "QE MRSIGNER mismatch")
X(MT_ERR_QE_DEBUG, "qe_debug", 401, "attestation_verification_failed",
  "QE report has the DEBUG attribute")
X(MT_ERR_QE_ISVPRODID, "qe_isvprodid", 401, "attestation_verification_failed",
  "QE ISVPRODID mismatch")
X(MT_ERR_QE_MISCSELECT, "qe_miscselect", 401, "attestation_verification_failed",
  "QE MISCSELECT mismatch")
X(MT_ERR_QE_ATTRIBUTES, "qe_attributes", 401, "attestation_verification_failed",
  "QE ATTRIBUTES mismatch")
X(MT_ERR_QE_ISVSVN, "qe_isvsvn_below_minimum", 401, "attestation_verification_failed",
  "QE ISVSVN is below minimum")
X(MT_ERR_QUOTE_SIGNATURE, "quote_signature", 401, "attestation_verification_failed",
  "ISV enclave report signature is invalid")
X(MT_ERR_FMSPC_MISMATCH, "fmspc_mismatch", 401, "attestation_verification_failed", "Fmspc mismatch")
X(MT_ERR_PCEID_MISMATCH, "pceid_mismatch", 401, "attestation_verification_failed",
  "PCE-ID mismatch between the PCK certificate and TCB Info")
X(MT_ERR_TCB_INFO_TYPE, "tcb_info_type_mismatch", 401, "attestation_verification_failed",
  "Unsupported TCB Info id/version for the quote TEE type")
X(MT_ERR_SGX_COMPONENTS, "sgx_component_count", 401, "attestation_verification_failed",
  "SGX component count mismatch")
X(MT_ERR_TDX_COMPONENTS, "tdx_component_count", 401, "attestation_verification_failed",
  "TDX component count mismatch")
X(MT_ERR_NO_TCB_LEVEL, "no_tcb_level", 401, "attestation_verification_failed",
  "No matching TCB level found")
X(MT_ERR_TDX_MODULE, "tdx_module", 401, "attestation_verification_failed",
  "TDX module identity mismatch")
X(MT_ERR_TDX_MODULE_ISVSVN, "tdx_module_isvsvn_below_minimum", 401,
  "attestation_verification_failed", "TDX module ISVSVN is below minimum")
X(MT_ERR_TCB_REVOKED, "tcb_revoked", 401, "attestation_verification_failed",
  "TCB status is invalid: Revoked")
X(MT_ERR_DEBUG_ENABLED, "debug_enabled", 401, "attestation_verification_failed",
  "Debug mode is enabled")
X(MT_ERR_TD_RESERVED_BITS, "td_reserved_bits", 401, "attestation_verification_failed",
  "Reserved bits in TD attributes are set")
X(MT_ERR_SEPT_VE_DISABLE, "sept_ve_disable_clear", 401, "attestation_verification_failed",
  "SEPT_VE_DISABLE is not enabled")
X(MT_ERR_MR_SERVICE_TD, "mr_service_td", 401, "attestation_verification_failed",
  "Invalid MR service TD")

/* measurements: event logs and RTMR replay; dstack.md section 3 */
X(MT_ERR_EVENTLOG_FORMAT, "eventlog_format", 400, "", "Malformed event log")
X(MT_ERR_EVENTLOG_DIGEST, "eventlog_digest", 400, "", "Event log digest does not match its event")
X(MT_ERR_RTMR_MISMATCH, "rtmr_mismatch", 401, "attestation_verification_failed",
  "Event log does not replay to the quoted RTMR")

/* dstack guest agent; dstack.md sections 1-5 */
X(MT_ERR_DSTACK_UNAVAILABLE, "dstack_unavailable", 503, "", "dstack guest agent is unreachable")
X(MT_ERR_DSTACK_REJECTED, "dstack_rejected", 502, "", "dstack guest agent refused the request")
X(MT_ERR_DSTACK_RESPONSE, "dstack_response", 502, "",
  "dstack guest agent sent a malformed response")

/* configuration: fatal at startup, always naming the variable */
X(MT_ERR_CONFIG, "config_invalid", 500, "", "Invalid configuration")

/* KMS requests; mero-tee-reference.md section 1.8 (tags and statuses) */
X(MT_ERR_INVALID_REQUEST, "invalid_request", 400, "invalid_request", "Invalid request")
X(MT_ERR_INVALID_PEER_ID, "invalid_peer_id", 400, "invalid_peer_id", "Invalid peer ID")
X(MT_ERR_INVALID_ATTESTATION_REQUEST, "invalid_attestation_request", 400,
  "invalid_attestation_request", "Invalid attestation request")
X(MT_ERR_INVALID_PEER_PUBLIC_KEY, "invalid_peer_public_key", 400, "invalid_peer_public_key",
  "Invalid peer public key")
X(MT_ERR_RATE_LIMITED, "rate_limited", 429, "rate_limited",
  "Too many pending challenges. Retry shortly.")
X(MT_ERR_INVALID_CHALLENGE, "invalid_challenge", 401, "invalid_challenge", "Invalid challenge")
X(MT_ERR_CHALLENGE_NOT_FOUND, "challenge_not_found", 401, "invalid_challenge",
  "challenge not found or expired")
X(MT_ERR_CHALLENGE_PEER_MISMATCH, "challenge_peer_mismatch", 401, "invalid_challenge",
  "challenge peer mismatch")
X(MT_ERR_CHALLENGE_EXPIRED, "challenge_expired", 401, "invalid_challenge", "challenge has expired")
X(MT_ERR_INVALID_SIGNATURE, "invalid_signature", 401, "invalid_signature",
  "signature verification failed")
X(MT_ERR_ATTESTATION_FAILED, "attestation_verification_failed", 401,
  "attestation_verification_failed", "Attestation verification failed")
X(MT_ERR_MOCK_REJECTED, "mock_attestation_rejected", 401, "mock_attestation_rejected",
  "Mock attestations are not accepted in production mode")
X(MT_ERR_PEER_IDENTITY_MISMATCH, "peer_identity_mismatch", 401, "peer_identity_mismatch",
  "The provided peer public key does not correspond to the claimed peer ID")
X(MT_ERR_PEER_ID_MISMATCH, "peer_id_mismatch", 401, "peer_id_mismatch",
  "Quote report data does not bind the claimed peer ID")
X(MT_ERR_TCB_STATUS_REJECTED, "tcb_status_rejected", 403, "tcb_status_rejected",
  "TCB status is not allowed")
X(MT_ERR_MEASUREMENT_REJECTED, "measurement_policy_rejected", 403, "measurement_policy_rejected",
  "Measurement is not allowed by policy")
X(MT_ERR_POLICY_NOT_READY, "policy_not_ready", 503, "policy_not_ready",
  "Attestation policy is not ready yet")
X(MT_ERR_KEY_DERIVATION, "key_derivation_failed", 500, "key_derivation_failed",
  "Key derivation failed")
X(MT_ERR_STORE_UNAVAILABLE, "store_unavailable", 503, "service_unavailable",
  "Challenge store is unavailable")
X(MT_ERR_COLLATERAL_UNAVAILABLE, "collateral_unavailable", 503, "service_unavailable",
  "No current collateral for this platform could be obtained")
X(MT_ERR_AUDIT_UNAVAILABLE, "audit_unavailable", 503, "service_unavailable",
  "The decision could not be recorded in the audit log; no key is released unaudited")

/* release policy documents */
X(MT_ERR_POLICY_FORMAT, "policy_format", 500, "", "Malformed attestation policy")
X(MT_ERR_POLICY_PIN, "policy_pin_mismatch", 500, "",
  "Policy hash mismatch: the downloaded policy does not match its SHA-256 pin")
X(MT_ERR_POLICY_FETCH, "policy_fetch", 502, "", "Failed to fetch the release policy")

/* audit log */
X(MT_ERR_AUDIT_FORMAT, "audit_format", 500, "", "Malformed audit log line")
X(MT_ERR_AUDIT_CHAIN, "audit_chain_broken", 500, "", "Audit log hash chain is broken")

/* sigstore; sigstore.md (one row per check, in verification order) */
X(MT_ERR_SIGSTORE_POLICY, "sigstore_policy", 400, "",
  "Unusable verification policy (keyless needs an identity and an issuer; bad regexp)")
X(MT_ERR_SIGSTORE_TRUST_ROOT, "sigstore_trusted_root", 422, "",
  "Invalid trusted root (sigstore.md 3.1-3.2)")
X(MT_ERR_SIGSTORE_KEY, "sigstore_key", 400, "",
  "Unusable public key (a PEM PUBLIC KEY, ECDSA P-256/384/521 or RSA, is needed)")
X(MT_ERR_SIGSTORE_JSON, "sigstore_bundle_json", 422, "", "Bundle is not valid JSON")
X(MT_ERR_SIGSTORE_MEDIA_TYPE, "sigstore_media_type", 422, "", "Unsupported bundle mediaType")
X(MT_ERR_SIGSTORE_FORMAT, "sigstore_bundle_format", 422, "",
  "Malformed bundle: missing, mistyped, unknown or duplicate field (sigstore.md 2.2)")
X(MT_ERR_SIGSTORE_BASE64, "sigstore_base64", 422, "", "Invalid base64 in a bundle field")
X(MT_ERR_SIGSTORE_EMPTY_CHAIN, "sigstore_empty_chain", 422, "", "Bundle certificate chain is empty")
X(MT_ERR_SIGSTORE_CERT, "sigstore_certificate", 422, "",
  "Bundle signing certificate is not a valid X.509 certificate")
X(MT_ERR_SIGSTORE_LOG_INDEX, "sigstore_log_index", 422, "", "Negative or invalid log index")
X(MT_ERR_SIGSTORE_MISSING_PROMISE, "sigstore_missing_promise", 422, "",
  "A v0.1 bundle tlog entry lacks its signed entry timestamp")
X(MT_ERR_SIGSTORE_MISSING_PROOF, "sigstore_missing_inclusion_proof", 422, "",
  "A v0.2+ bundle tlog entry lacks its inclusion proof")
X(MT_ERR_SIGSTORE_UNSUPPORTED, "sigstore_unsupported", 422, "",
  "Unsupported Sigstore material (intoto 0.0.2 and dsse 0.0.2 entries, Rekor v2 entries for "
  "P-384, P-521 or Ed25519 keys, DSSE payloads other than in-toto, Ed25519 cosign keys)")
X(MT_ERR_SIGSTORE_KEY_REQUIRED, "sigstore_key_required", 422, "",
  "Bundle was signed with a key, but no public key was given")
X(MT_ERR_SIGSTORE_MATERIAL, "sigstore_material_mismatch", 422, "",
  "Bundle carries a certificate, but key-based verification was requested")
X(MT_ERR_SIGSTORE_MESSAGE_DIGEST, "sigstore_message_digest", 422, "",
  "Bundle messageDigest does not match the artifact")
X(MT_ERR_SIGSTORE_TLOG_BODY, "sigstore_tlog_body", 422, "",
  "Malformed tlog entry body, or body kind/apiVersion differs from kindVersion")
X(MT_ERR_SIGSTORE_TLOG_SIGNATURE, "sigstore_tlog_signature_mismatch", 422, "",
  "The tlog entry records a different signature than the bundle (sigstore.md 4.4c)")
X(MT_ERR_SIGSTORE_TLOG_KEY, "sigstore_tlog_key_mismatch", 422, "",
  "The tlog entry records a different certificate or key than the bundle")
X(MT_ERR_SIGSTORE_TLOG_DIGEST, "sigstore_tlog_digest_mismatch", 422, "",
  "The tlog entry records a different artifact digest")
X(MT_ERR_SIGSTORE_SET, "sigstore_set", 422, "",
  "Signed entry timestamp (inclusion promise) does not verify with the log key")
X(MT_ERR_SIGSTORE_SET_TIME, "sigstore_set_time", 422, "",
  "integratedTime is outside the log key's validity window")
X(MT_ERR_SIGSTORE_CHECKPOINT_FORMAT, "sigstore_checkpoint_format", 422, "",
  "Malformed checkpoint (signed note)")
X(MT_ERR_SIGSTORE_CHECKPOINT_NO_SIG, "sigstore_checkpoint_no_log_signature", 422, "",
  "Checkpoint carries no signature line from the log's key")
X(MT_ERR_SIGSTORE_CHECKPOINT_SIG, "sigstore_checkpoint_signature", 422, "",
  "Checkpoint signature does not verify with the log key")
X(MT_ERR_SIGSTORE_CHECKPOINT_MISMATCH, "sigstore_checkpoint_mismatch", 422, "",
  "Checkpoint root hash or tree size differs from the inclusion proof")
X(MT_ERR_SIGSTORE_INCLUSION_PROOF, "sigstore_inclusion_proof", 422, "",
  "Merkle inclusion proof does not lead to the root hash")
X(MT_ERR_SIGSTORE_MISSING_CHECKPOINT, "sigstore_missing_checkpoint", 422, "",
  "Inclusion proof without a checkpoint")
X(MT_ERR_SIGSTORE_TIME_CERT, "sigstore_time_outside_certificate", 422, "",
  "integratedTime is outside the signing certificate's validity")
X(MT_ERR_SIGSTORE_NO_TLOG, "sigstore_no_tlog_entry", 422, "",
  "No tlog entry from a log of the trusted root verified")
X(MT_ERR_SIGSTORE_NO_SIGNED_TIME, "sigstore_no_signed_time", 422, "",
  "No verified signing time (no signed entry timestamp)")
X(MT_ERR_SIGSTORE_NO_CA, "sigstore_no_ca_for_time", 422, "",
  "No certificate authority of the trusted root is valid at the signing time")
X(MT_ERR_SIGSTORE_CHAIN, "sigstore_chain", 422, "",
  "Signing certificate does not chain to the trusted root at the signing time")
X(MT_ERR_SIGSTORE_CERT_USAGE, "sigstore_certificate_usage", 422, "",
  "Signing certificate lacks digitalSignature key usage or the codeSigning EKU")
X(MT_ERR_SIGSTORE_SCT, "sigstore_sct", 422, "",
  "No valid embedded SCT from a CT log of the trusted root")
X(MT_ERR_SIGSTORE_CERT_EXTENSION, "sigstore_certificate_extension", 422, "",
  "Malformed or contradictory Fulcio certificate extension")
X(MT_ERR_SIGSTORE_IDENTITY, "sigstore_identity", 422, "",
  "Certificate identity (SAN) does not match the policy")
X(MT_ERR_SIGSTORE_ISSUER, "sigstore_issuer", 422, "",
  "Certificate OIDC issuer does not match the policy")
X(MT_ERR_SIGSTORE_GH_EXTENSION, "sigstore_github_extension", 422, "",
  "A pinned GitHub workflow extension does not match the certificate")
X(MT_ERR_SIGSTORE_SIGNATURE, "sigstore_signature", 422, "", "Artifact signature does not verify")
X(MT_ERR_SIGSTORE_TIMESTAMP_FORMAT, "sigstore_timestamp_format", 422, "",
  "Malformed RFC 3161 timestamp (not a granted TimeStampResp with a TSTInfo token)")
X(MT_ERR_SIGSTORE_TIMESTAMP_IMPRINT, "sigstore_timestamp_imprint", 422, "",
  "RFC 3161 timestamp message imprint is not the hash of the bundle signature")
X(MT_ERR_SIGSTORE_TIMESTAMP, "sigstore_timestamp", 422, "",
  "RFC 3161 timestamp does not verify with a timestamp authority of the trusted root at its "
  "genTime")
X(MT_ERR_SIGSTORE_TIMESTAMP_TIME, "sigstore_timestamp_time", 422, "",
  "RFC 3161 timestamp genTime is outside the timestamp authority's validity window")
X(MT_ERR_SIGSTORE_CHECKPOINT_ORIGIN, "sigstore_checkpoint_origin", 422, "",
  "Rekor v2 checkpoint origin is not the log's baseUrl host")
X(MT_ERR_SIGSTORE_DSSE_SUBJECT, "sigstore_dsse_subject", 422, "",
  "The in-toto statement in the DSSE envelope does not name the artifact's SHA-256")
X(MT_ERR_SIGSTORE_TLOG_KEY_TIME, "sigstore_tlog_key_time", 422, "",
  "A tlog entry without a signed entry timestamp is not inside its log key's validity at the "
  "signing time")

/* release; mero-tee-reference.md section 3 */
X(MT_ERR_RELEASE_ASSET_MISSING, "release_asset_missing", 422, "",
  "A required release asset is missing")
X(MT_ERR_RELEASE_CHECKSUMS_FORMAT, "release_checksums_format", 422, "", "Malformed checksums file")
X(MT_ERR_RELEASE_CHECKSUM_MISMATCH, "release_checksum_mismatch", 422, "",
  "A release asset does not match its checksum")
X(MT_ERR_RELEASE_SCHEMA, "release_schema", 422, "", "A release document does not follow its schema")
X(MT_ERR_RELEASE_INCONSISTENT, "release_inconsistent", 422, "",
  "Release documents disagree with each other")
X(MT_ERR_RELEASE_SEPARATION, "release_profile_separation", 422, "",
  "Release profiles are not separated by their measurements")
X(MT_ERR_RELEASE_SIGNATURE_MISSING, "release_signature_missing", 422, "",
  "A release asset has no signature to verify")
X(MT_ERR_RELEASE_UNVERIFIABLE, "release_signature_unverifiable", 422, "",
  "A detached .sig and .pem without a bundle cannot be verified offline")
X(MT_ERR_RELEASE_NO_TRUST, "release_no_trust_material", 400, "",
  "No trusted root or public key to verify release signatures with")
X(MT_ERR_RELEASE_PROBE_FORMAT, "release_probe_format", 422, "", "Malformed probe result")
X(MT_ERR_RELEASE_NOT_VERIFIED, "release_not_verified", 422, "", "The release did not verify")
X(MT_ERR_RELEASE_KEY, "release_signing_key", 400, "",
  "Unusable signing key (an EC P-256 private key in PEM is needed)")
X(MT_ERR_RELEASE_UNLISTED, "release_unlisted_file", 422, "",
  "The release directory holds a file that is neither a listed asset nor one of its signatures")
X(MT_ERR_RELEASE_MEROD, "release_merod_failed", 500, "",
  "A merod config command could not be run or exited unsuccessfully")

/* verifier; docs/verifier.md */
X(MT_ERR_VERIFIER_BAD_REQUEST, "verifier_bad_request", 400, "",
  "The verification request is malformed")
X(MT_ERR_VERIFIER_TARGET_REFUSED, "verifier_target_refused", 403, "",
  "The target URL is not allowed (scheme, host or address)")
X(MT_ERR_VERIFIER_FETCH_FAILED, "verifier_fetch_failed", 502, "",
  "The target could not be reached or answered with an error")
X(MT_ERR_VERIFIER_REDIRECT, "verifier_redirect_refused", 502, "",
  "The target answered with a redirect, which the verifier does not follow")
X(MT_ERR_VERIFIER_RESPONSE_TOO_LARGE, "verifier_response_too_large", 502, "",
  "The target's response exceeds the verifier's size limit")
X(MT_ERR_VERIFIER_RESPONSE_INVALID, "verifier_response_invalid", 502, "",
  "The target's attestation response is malformed")
X(MT_ERR_VERIFIER_RATE_LIMITED, "verifier_rate_limited", 429, "",
  "Too many verification requests from this client address")
X(MT_ERR_VERIFIER_NOT_FOUND, "verifier_not_found", 404, "", "No such route or file")
X(MT_ERR_VERIFIER_METHOD, "verifier_method_not_allowed", 405, "",
  "The method is not allowed on this route")
X(MT_ERR_VERIFIER_MEDIA_TYPE, "verifier_unsupported_media_type", 415, "",
  "The request body must be application/json")
X(MT_ERR_VERIFIER_ITA, "verifier_ita", 502, "",
  "Intel Trust Authority appraisal failed or its token did not verify")

/* fleet sidecar; docs/fleet-sidecar.md */
X(MT_ERR_SIDECAR_FILE_PERMS, "sidecar_file_permissions", 500, "",
  "A configuration or token file is not private (owner root or the service user, mode 0600)")
X(MT_ERR_SIDECAR_MDMA_RESPONSE, "sidecar_mdma_response", 502, "",
  "The fleet manager's answer is malformed")
X(MT_ERR_SIDECAR_JOIN_FAILED, "sidecar_join_failed", 502, "",
  "meroctl tee fleet-join did not exit with status 0")
X(MT_ERR_SIDECAR_JOIN_TIMEOUT, "sidecar_join_timeout", 504, "",
  "meroctl tee fleet-join did not finish in time and was killed")
X(MT_ERR_SIDECAR_STATE_CORRUPT, "sidecar_state_corrupt", 500, "",
  "The sidecar state file is corrupt (moved aside, starting from empty state)")
X(MT_ERR_SIDECAR_NODE_NOT_READY, "sidecar_node_not_ready", 503, "",
  "merod is not ready or did not answer with the node's peer ID")
X(MT_ERR_SIDECAR_MRTD, "sidecar_mrtd_invalid", 502, "",
  "The node's MRTD could not be read or is not 96 lowercase hex digits")

/* image; docs/image.md */
X(MT_ERR_IMAGE_CMDLINE, "image_cmdline", 500, "",
  "The kernel command line lacks calimero.role=node, calimero.profile or calimero.root_hash, "
  "or carries one of them twice or malformed")
X(MT_ERR_IMAGE_PROFILE, "image_profile", 400, "",
  "Unknown image profile (debug, debug-read-only, locked-read-only)")
X(MT_ERR_IMAGE_ROOT_HASH, "image_root_hash", 400, "",
  "The root hash is not 64 lowercase hex digits")
X(MT_ERR_IMAGE_NO_TDX_INTERFACE, "image_no_tdx_interface", 500, "",
  "No kernel TDX RTMR interface (sysfs measurement file or configfs-tsm) was found")
X(MT_ERR_IMAGE_ALREADY_MEASURED, "image_already_measured", 409, "",
  "RTMR3 was already extended in this boot (marker present); refusing to extend twice")
X(MT_ERR_IMAGE_MEASURE_WRITE, "image_measure_write", 500, "",
  "Writing the digest to the kernel's RTMR interface failed")
X(MT_ERR_IMAGE_SPECIAL_FILE, "image_special_file", 400, "",
  "The image tree holds a device, FIFO or socket where the root hash covers files")
X(MT_ERR_IMAGE_TREE, "image_tree", 400, "",
  "The image tree cannot be hashed (unreadable, symlinked parent, bad name or over a limit)")
