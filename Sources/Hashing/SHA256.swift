import Foundation
private import CCrypto

/// SHA-256 digests (FIPS 180-4), computed by OpenSSL's libcrypto.
public enum SHA256 {
    /// The 32-byte digest of `bytes` (OpenSSL: EVP_Digest with EVP_sha256).
    public static func hash(_ bytes: some ContiguousBytes) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        let ok = bytes.withUnsafeBytes { raw in
            digest.withUnsafeMutableBufferPointer { ccrypto_sha256(raw.baseAddress, raw.count, $0.baseAddress) }
        }
        precondition(ok == 1, "libcrypto's SHA-256 failed")
        return digest
    }

    /// The digest as 64 lowercase hex digits.
    public static func hex(_ bytes: some ContiguousBytes) -> String { Hex.encode(hash(bytes)) }
}

/// HMAC-SHA256 message authentication (RFC 2104), computed by OpenSSL's libcrypto.
public enum HMACSHA256 {
    /// The 32-byte MAC of `message` under `key` (OpenSSL: HMAC with EVP_sha256).
    public static func authenticate(_ message: some ContiguousBytes, key: some ContiguousBytes) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: 32)
        let ok = key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                mac.withUnsafeMutableBufferPointer {
                    ccrypto_hmac_sha256(k.baseAddress, k.count, m.baseAddress, m.count, $0.baseAddress)
                }
            }
        }
        precondition(ok == 1, "libcrypto's HMAC-SHA256 failed")
        return mac
    }
}

/// Random bytes from OpenSSL's CSPRNG, for secrets and keys (RAND_bytes).
public enum SecureRandom {
    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let ok = bytes.withUnsafeMutableBufferPointer { ccrypto_random($0.baseAddress, $0.count) }
        precondition(ok == 1, "libcrypto's RAND_bytes failed")
        return bytes
    }

    /// A random token: `count` bytes as lowercase hex.
    public static func token(bytes count: Int = 24) -> String { Hex.encode(bytes(count)) }
}

/// Lowercase hexadecimal.
public enum Hex {
    /// `bytes` as lowercase hex digits.
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
