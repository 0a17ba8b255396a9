#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address block ("198.51.100.0/24", "2001:db8::/32", or a single address),
/// used for trunk source ACLs.
public struct AddressRange: Sendable, Hashable, CustomStringConvertible {
    private let bytes: [UInt8]
    private let prefix: Int
    public let description: String

    /// Parses "ADDR" or "ADDR/BITS"; throws a `SIPError` naming the bad text.
    public init(_ text: String) throws(SIPError) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let address = parts.first, let bytes = AddressRange.parseAddress(address) else {
            throw SIPError("'\(text)' is not an IP address or CIDR block (expected e.g. 198.51.100.0/24 or 2001:db8::/32)")
        }
        let maxBits = bytes.count * 8
        var prefix = maxBits
        if parts.count == 2 {
            guard let bits = Int(parts[1]), (0...maxBits).contains(bits) else {
                throw SIPError("'\(text)': prefix length must be 0...\(maxBits)")
            }
            prefix = bits
        }
        self.bytes = bytes
        self.prefix = prefix
        self.description = text
    }

    /// True when `address` (numeric IPv4 or IPv6, IPv4-mapped IPv6 accepted) lies in this block.
    public func contains(_ address: String) -> Bool {
        guard var other = AddressRange.parseAddress(address) else { return false }
        if other.count == 16, bytes.count == 4, other[0..<10].allSatisfy({ $0 == 0 }), other[10] == 0xFF, other[11] == 0xFF {
            other = Array(other[12..<16])
        }
        guard other.count == bytes.count else { return false }
        var remaining = prefix
        for i in 0..<bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if bytes[i] & mask != other[i] & mask { return false }
            remaining -= bits
        }
        return true
    }

    static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
