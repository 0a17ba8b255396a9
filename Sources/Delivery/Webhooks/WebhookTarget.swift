import Foundation

/// Where a webhook may go. An account names a URL; without `delivery.allow_private_targets` faxd
/// refuses every address that is not a public unicast address of someone else (SSRF: an account
/// must not make faxd probe the operator's network, the cloud metadata service or faxd's own
/// admin API). The name is resolved once per attempt and the connection goes to the address that
/// was checked (no second lookup a rebinding DNS server could answer differently).
public enum WebhookTarget {
    /// A checked destination: connect to `address`, send `Host` and verify TLS against `host`.
    public struct Resolved: Sendable, Equatable {
        /// The URL's host without IPv6 brackets, as AsyncHTTPClient keys its `dnsOverride`.
        public var host: String
        /// The numeric address that was checked (inet_ntop form).
        public var address: String
    }

    /// Why a target cannot be used.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        /// The host as named in the URL.
        public var host: String
        /// The address it resolved to (nil when it did not resolve).
        public var address: String?
        /// What is wrong: "a private address (10.0.0.0/8)", or the resolver's message.
        public var reason: String

        /// For the API, the CLI and the delivery log.
        public var description: String {
            guard let address else {
                return "cannot resolve \(host): \(reason); check the URL's host name"
            }
            let resolved = host == address ? address : "\(host) resolves to \(address),"
            return "\(resolved) \(reason): faxd does not send webhooks to internal addresses; use a public URL "
                + "(or set delivery.allow_private_targets for a trusted network)"
        }
    }

    /// Resolves `host` once (getaddrinfo) and checks every address it has; returns the first one
    /// when none is internal. Blocks for the lookup: call it off the cooperative pool (`resolve(host:port:) async`).
    public static func resolveBlocking(host: String, port: Int) throws(Refusal) -> Resolved {
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw Refusal(host: name, address: nil, reason: status == 0 ? "no address" : String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var addresses: [[UInt8]] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let entry = node {
            if let bytes = entry.pointee.ai_addr.flatMap({ Self.bytes(of: $0, family: entry.pointee.ai_family) }) { addresses.append(bytes) }
            node = entry.pointee.ai_next
        }
        guard let chosen = addresses.first else { throw Refusal(host: name, address: nil, reason: "no IPv4 or IPv6 address") }
        let local = localAddresses()
        for address in addresses {
            if let range = internalRange(of: address, localAddresses: local) {
                throw Refusal(host: name, address: text(address), reason: range)
            }
        }
        return Resolved(host: name, address: text(chosen))
    }

    /// `resolveBlocking` on a Dispatch thread, so a slow resolver does not hold a Swift concurrency thread.
    public static func resolve(host: String, port: Int) async throws(Refusal) -> Resolved {
        let result = await withCheckedContinuation { (done: CheckedContinuation<Result<Resolved, Refusal>, Never>) in
            DispatchQueue.global().async {
                do throws(Refusal) { done.resume(returning: .success(try resolveBlocking(host: host, port: port))) } catch {
                    done.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// The check the API and the CLI make when an endpoint is created: the refusal for `url` when
    /// its host resolves to an internal address. A name that does not resolve now is accepted (it
    /// may be registered later); every delivery checks it again. Blocks for the lookup.
    public static func refusalAtCreationBlocking(url: URL) -> Refusal? {
        guard let host = url.host else { return nil }
        do throws(Refusal) {
            _ = try resolveBlocking(host: host, port: url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80))
            return nil
        } catch {
            return error.address == nil ? nil : error
        }
    }

    /// `refusalAtCreationBlocking` on a Dispatch thread.
    public static func refusalAtCreation(url: URL) async -> Refusal? {
        await withCheckedContinuation { done in
            DispatchQueue.global().async { done.resume(returning: refusalAtCreationBlocking(url: url)) }
        }
    }

    /// The range `address` (4 or 16 bytes, network order) lies in when it is not a public unicast
    /// address, described for an error message; nil when webhooks may go there. IPv6 forms that
    /// carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that address.
    /// RFC 6890 special-purpose registries, RFC 5737/3849/9637 documentation ranges.
    public static func internalRange(of address: [UInt8], localAddresses: Set<[UInt8]> = []) -> String? {
        if localAddresses.contains(address) { return "an address of this machine" }
        if address.count == 4 { return internalRangeV4(address, localAddresses: localAddresses) }
        guard address.count == 16 else { return "not an IP address" }
        let a = address
        func prefix(_ bytes: [UInt8], bits: Int) -> Bool {
            for bit in 0..<bits where (a[bit / 8] >> (7 - bit % 8)) & 1 != (bytes[bit / 8] >> (7 - bit % 8)) & 1 { return false }
            return true
        }
        let zero = [UInt8](repeating: 0, count: 16)
        // ::a.b.c.d (IPv4-compatible, also :: and ::1) and ::ffff:a.b.c.d (IPv4-mapped).
        if prefix(zero, bits: 96) || (prefix(zero, bits: 80) && a[10] == 0xff && a[11] == 0xff) {
            if a == zero { return "the unspecified address (::)" }
            if a == [UInt8](repeating: 0, count: 15) + [1] { return "loopback (::1)" }
            return internalRangeV4(Array(a[12...]), localAddresses: localAddresses).map { "\($0), embedded in an IPv6 address" }
        }
        // NAT64 well-known prefix: the gateway forwards to the embedded IPv4 address.
        if prefix([0x00, 0x64, 0xff, 0x9b] + zero, bits: 96) {
            return internalRangeV4(Array(a[12...]), localAddresses: localAddresses).map { "\($0), behind NAT64 (64:ff9b::/96)" }
        }
        if prefix([0x00, 0x64, 0xff, 0x9b, 0x00, 0x01] + zero, bits: 48) { return "local-use NAT64 (64:ff9b:1::/48)" }
        // 6to4 names an IPv4 address too.
        if prefix([0x20, 0x02] + zero, bits: 16) {
            return internalRangeV4(Array(a[2..<6]), localAddresses: localAddresses).map { "\($0), embedded in 6to4 (2002::/16)" }
        }
        if prefix([0x01, 0x00] + zero, bits: 64) { return "discard-only (100::/64)" }
        if prefix([0xfc] + zero, bits: 7) { return "unique local (fc00::/7)" }
        if prefix([0xfe, 0x80] + zero, bits: 10) { return "link-local (fe80::/10)" }
        if prefix([0xfe, 0xc0] + zero, bits: 10) { return "site-local (fec0::/10)" }
        if prefix([0xff] + zero, bits: 8) { return "multicast (ff00::/8)" }
        if prefix([0x20, 0x01, 0x0d, 0xb8] + zero, bits: 32) { return "documentation (2001:db8::/32)" }
        if prefix([0x3f, 0xff] + zero, bits: 20) { return "documentation (3fff::/20)" }
        if prefix([0x20, 0x01] + zero, bits: 23) { return "IETF protocol assignments, Teredo among them (2001::/23)" }
        // Everything else outside global unicast is reserved.
        if !prefix([0x20] + zero, bits: 3) { return "reserved, outside global unicast 2000::/3" }
        return nil
    }

    private static func internalRangeV4(_ a: [UInt8], localAddresses: Set<[UInt8]>) -> String? {
        if localAddresses.contains(a) { return "an address of this machine" }
        let value = a.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        for (network, bits, name) in ipv4Ranges where value >> (32 - bits) == network >> (32 - bits) {
            return "\(name) (\(a4(network))/\(bits))"
        }
        return nil
    }

    /// IPv4 ranges that are not someone else's public unicast host (RFC 6890 and its updates).
    private static let ipv4Ranges: [(UInt32, Int, String)] = [
        (0x0000_0000, 8, "\"this network\""),
        (0x0A00_0000, 8, "a private address"),
        (0x6440_0000, 10, "shared carrier-grade NAT space"),
        (0x7F00_0000, 8, "loopback"),
        (0xA9FE_0000, 16, "link-local, cloud metadata among them"),
        (0xAC10_0000, 12, "a private address"),
        (0xC000_0000, 24, "IETF protocol assignments"),
        (0xC000_0200, 24, "documentation (TEST-NET-1)"),
        (0xC058_6300, 24, "the 6to4 relay anycast"),
        (0xC0A8_0000, 16, "a private address"),
        (0xC612_0000, 15, "benchmarking"),
        (0xC633_6400, 24, "documentation (TEST-NET-2)"),
        (0xCB00_7100, 24, "documentation (TEST-NET-3)"),
        (0xE000_0000, 3, "multicast, reserved or broadcast"),
    ]

    private static func a4(_ v: UInt32) -> String { "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)" }

    /// `text` as 4 or 16 bytes when it is a numeric IPv4 or IPv6 address (inet_pton).
    public static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// The numeric form of a 4- or 16-byte address (inet_ntop).
    public static func text(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) } != nil
        return ok ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : bytes.map(String.init).joined(separator: ".")
    }

    /// Every address on this machine's interfaces (getifaddrs): a public address of faxd's own
    /// host reaches its admin API as surely as 127.0.0.1 does.
    public static func localAddresses() -> Set<[UInt8]> {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(first) }
        var found: Set<[UInt8]> = []
        var node: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = node {
            if let address = entry.pointee.ifa_addr, let bytes = Self.bytes(of: address, family: Int32(address.pointee.sa_family)) {
                found.insert(bytes)
            }
            node = entry.pointee.ifa_next
        }
        return found
    }

    private static func bytes(of address: UnsafeMutablePointer<sockaddr>, family: Int32) -> [UInt8]? {
        switch family {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) } }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) } }
        default:
            return nil
        }
    }
}
