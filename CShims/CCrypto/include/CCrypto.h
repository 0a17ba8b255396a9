#ifndef FAXD_CCRYPTO_H
#define FAXD_CCRYPTO_H

#include <stddef.h>

/// SHA-256 of `length` bytes into `digest` (32 bytes), OpenSSL's EVP_Digest. 1 on success.
/// Wrapped so no OpenSSL type (EVP_MD) reaches Swift.
int ccrypto_sha256(const void *bytes, size_t length, unsigned char *digest);

/// HMAC-SHA256 (RFC 2104) of `length` bytes under `key` into `mac` (32 bytes), OpenSSL's HMAC().
/// 1 on success.
int ccrypto_hmac_sha256(const void *key, size_t key_length, const void *bytes, size_t length,
                        unsigned char *mac);

/// `count` bytes from OpenSSL's CSPRNG (RAND_bytes), for secrets and API keys. 1 on success.
int ccrypto_random(unsigned char *bytes, size_t count);

#endif
