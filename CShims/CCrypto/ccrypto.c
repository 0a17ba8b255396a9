#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "CCrypto.h"

int ccrypto_sha256(const void *bytes, size_t length, unsigned char *digest)
{
    unsigned int size = 0;
    return EVP_Digest(bytes, length, digest, &size, EVP_sha256(), NULL) == 1 && size == 32;
}

int ccrypto_hmac_sha256(const void *key, size_t key_length, const void *bytes, size_t length,
                        unsigned char *mac)
{
    unsigned int size = 0;
    return HMAC(EVP_sha256(), key, (int)key_length, bytes, length, mac, &size) != NULL && size == 32;
}

int ccrypto_random(unsigned char *bytes, size_t count)
{
    return RAND_bytes(bytes, (int)count) == 1;
}
