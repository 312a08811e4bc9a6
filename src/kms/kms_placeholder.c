/* Keeps the KMS library non-empty while it is being written. */
int mt_kms_placeholder;
