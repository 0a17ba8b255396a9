#if canImport(Glibc)
import CNet
import Glibc
#endif

/// Why a UDP socket could not be opened or addressed. RFC 768
public enum UDPSocketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The host is not an IPv4 or IPv6 literal. RFC 4291 section 2.2
    case invalidAddress(String)
    /// socket(2) failed; carries errno. RFC 768
    case socketFailed(Int32)
    /// bind(2) failed; carries host, port and errno (EADDRINUSE when the port is busy). RFC 768
    case bindFailed(host: String, port: UInt16, errno: Int32)
    /// An IPv6 remote was given to an IPv4 socket. RFC 4291 section 2.5.5.2
    case addressFamilyMismatch(String)
    /// The socket has been closed. RFC 768
    case closed

    /// A human reason for logs. RFC 768
    public var description: String {
        switch self {
        case .invalidAddress(let h): return "not an IPv4/IPv6 address literal: \(h)"
        case .socketFailed(let e): return "cannot create UDP socket: \(errnoText(e))"
        case .bindFailed(let h, let p, let e): return "cannot bind UDP \(h) port \(p): \(errnoText(e))"
        case .addressFamilyMismatch(let h): return "remote \(h) is IPv6 but the socket is IPv4"
        case .closed: return "UDP socket is closed"
        }
    }
}

/// No port in a range could be bound; names the range. RFC 3550 section 11
public struct PortRangeExhausted: Error, Equatable, Sendable, CustomStringConvertible {
    /// Local address the ports were tried on.
    public let host: String
    /// The range that was scanned.
    public let range: ClosedRange<UInt16>
    /// Whether only even ports were tried.
    public let even: Bool

    /// Creates the error for a scanned range. RFC 3550 section 11
    public init(host: String, range: ClosedRange<UInt16>, even: Bool) {
        self.host = host
        self.range = range
        self.even = even
    }

    /// A human reason for logs. RFC 3550 section 11
    public var description: String {
        "no free \(even ? "even " : "")UDP port in \(range.lowerBound)-\(range.upperBound) on \(host)"
    }
}

private func errnoText(_ e: Int32) -> String {
    guard let s = strerror(e) else { return "errno \(e)" }
    return "\(String(cString: s)) (errno \(e))"
}

/// Non-blocking UDP socket with symmetric-RTP latching; confined to its media shard queue. RFC 4961 section 3
///
/// `receive` and `send` never allocate. With `latchToSource` (default), the remote set from SDP
/// is only the initial destination: a received datagram makes its source the remote until the
/// socket locks. The channel calls `confirmSource` after each datagram that parsed as its media;
/// the socket locks at once when that came from the address SDP gave, or after `probation`
/// confirmations in a row from one other source (NAT: the far end sends from elsewhere). Locked,
/// it drops and counts (`foreignDatagrams`) datagrams from anywhere else, so a stranger cannot
/// inject media or steal the stream, with two ways back: the SDP's address always takes over, and
/// any source does once the locked one has been silent for `takeoverSilence` (NAT rebinding, an
/// SBC failing over). A new address from SDP (re-INVITE) unlocks it. RFC 4961 section 3; like
/// Asterisk's strictrtp with its learning period.
public final class UDPSocket: PacketTransport, @unchecked Sendable {
    private var fd: Int32
    private let family: Int32
    private var remote = sockaddr_storage()
    private var remoteLength: socklen_t = 0
    /// The address SDP last gave, so a session refresh naming the same one keeps the lock.
    private var signalled = sockaddr_storage()
    private var signalledLength: socklen_t = 0
    /// The source of the datagram `receive` returned last, for `confirmSource`.
    private var lastSource = sockaddr_storage()
    private var lastSourceLength: socklen_t = 0
    /// Set by `confirmSource`: only the remote's datagrams are taken.
    public private(set) var isLocked = false
    /// The source being confirmed (not the SDP's) and how many times in a row.
    private var candidate = sockaddr_storage()
    private var candidateLength: socklen_t = 0
    private var candidateCount = 0
    /// When the locked remote was last heard (CLOCK_MONOTONIC_COARSE, ns).
    private var lastFromRemote: UInt64 = 0
    /// When the address SDP gave was last heard (ns; 0 never).
    private var lastFromSignalled: UInt64 = 0

    /// Confirmations in a row a source other than the SDP's needs before the socket locks to it.
    public static let probation = 4
    /// How long the locked source must be silent before another may take over (ns).
    public static let takeoverSilence: UInt64 = 1_000_000_000

    /// The bound local port (resolved when bound to port 0). RFC 768
    public private(set) var localPort: UInt16 = 0
    /// Follow the source of received datagrams (symmetric RTP / NAT traversal). RFC 4961 section 3
    public var latchToSource = true
    /// Datagrams `send` could not hand to the kernel (EAGAIN, no route...) or had no remote for. RFC 768
    public private(set) var droppedSends = 0
    /// Times latching changed the remote address. RFC 4961 section 3
    public private(set) var remoteChanges = 0
    /// Datagrams longer than `datagramCapacity`, dropped unread. RFC 768
    public private(set) var oversizedDatagrams = 0
    /// Datagrams from a source other than the locked remote, dropped unread. RFC 4961 section 3
    public private(set) var foreignDatagrams = 0

    /// Datagrams one receive system call takes: a tick usually finds one or two waiting per call,
    /// so one recvmmsg(2) replaces a recvfrom per datagram plus the one that finds the socket empty.
    static let batchSize = 4
    /// Datagrams one `receive` drops (foreign, oversized) before it gives up until the next tick.
    static let maxSkippedPerReceive = 64
    /// Largest datagram accepted (an Ethernet MTU's worth; T.38 datagrams are at most 1400 bytes).
    public static let datagramCapacity = 1500
    private let batch = UnsafeMutableRawPointer.allocate(byteCount: UDPSocket.batchSize * UDPSocket.datagramCapacity, alignment: 16)
    private let batchLengths = UnsafeMutablePointer<Int>.allocate(capacity: UDPSocket.batchSize)
    private let batchSources = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: UDPSocket.batchSize)
    private let batchSourceLengths = UnsafeMutablePointer<UInt32>.allocate(capacity: UDPSocket.batchSize)
    private var batchCount = 0
    private var batchNext = 0
    /// The last batch came back short: the socket was empty then, so the next `receive` ends the
    /// caller's loop without another system call.
    private var drained = false

    /// Binds a non-blocking UDP socket on an IPv4 or IPv6 literal (port 0 = ephemeral); SO_REUSEADDR off. RFC 768
    public init(bindHost: String, port: UInt16) throws {
        guard var local = UDPSocket.resolve(bindHost, port: port) else {
            throw UDPSocketError.invalidAddress(bindHost)
        }
        family = Int32(local.storage.ss_family)
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        fd = socket(family, type, 0)
        guard fd >= 0 else { throw UDPSocketError.socketFailed(errno) }

        // Off on purpose: two channels must never share an RTP port.
        var off: Int32 = 0
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &off, socklen_t(MemoryLayout<Int32>.size))

        let rc = withUnsafePointer(to: &local.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, local.length) }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            fd = -1
            throw UDPSocketError.bindFailed(host: bindHost, port: port, errno: e)
        }

        var bound = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        localPort = UDPSocket.port(of: bound)
    }

    deinit {
        close()
        batch.deallocate()
        batchLengths.deallocate()
        batchSources.deallocate()
        batchSourceLengths.deallocate()
    }

    /// Tries ports round-robin from `hint` (even ones only when `even`, as RTP wants), advancing `hint` past the one bound. RFC 3550 section 11
    public static func bindInRange(host: String, ports: ClosedRange<UInt16>, even: Bool = true, startingAt hint: inout UInt16) throws -> UDPSocket {
        let step = even ? 2 : 1
        var lower = max(Int(ports.lowerBound), 1)
        if even && lower % 2 == 1 { lower += 1 }
        let upper = Int(ports.upperBound)
        guard lower <= upper else { throw PortRangeExhausted(host: host, range: ports, even: even) }
        let count = (upper - lower) / step + 1
        let h = Int(hint)
        // Round the hint up to the next candidate; outside the range start at the bottom.
        let start = (h >= lower && h <= upper) ? ((h - lower + step - 1) / step) % count : 0
        for k in 0..<count {
            let port = lower + ((start + k) % count) * step
            do {
                let socket = try UDPSocket(bindHost: host, port: UInt16(port))
                hint = UInt16(lower + ((start + k + 1) % count) * step)
                return socket
            } catch let UDPSocketError.bindFailed(_, _, e) where e == EADDRINUSE || e == EACCES {
                continue
            }
        }
        throw PortRangeExhausted(host: host, range: ports, even: even)
    }

    /// Sets the destination (from SDP); an IPv4 remote on an IPv6 socket is v4-mapped. RFC 4566 section 5.7
    public func setRemote(host: String, port: UInt16) throws {
        guard fd >= 0 else { throw UDPSocketError.closed }
        guard var address = UDPSocket.resolve(host, port: port) else {
            throw UDPSocketError.invalidAddress(host)
        }
        let remoteFamily = Int32(address.storage.ss_family)
        if remoteFamily != family {
            guard family == AF_INET6, remoteFamily == AF_INET else {
                throw UDPSocketError.addressFamilyMismatch(host)
            }
            address = UDPSocket.v4Mapped(address.storage)
        }
        // A refresh naming the address SDP gave before keeps what was learnt (the far end may be
        // behind NAT and send from elsewhere); a new one is followed and learnt again.
        if signalledLength > 0 && UDPSocket.sameEndpoint(address.storage, signalled, signalledLength) { return }
        signalled = address.storage
        signalledLength = address.length
        lastFromSignalled = 0
        remote = address.storage
        remoteLength = address.length
        isLocked = false
        candidateCount = 0
    }

    /// Forgets the confirmed source, keeping the remote: the next datagram's source is followed
    /// until the channel confirms one again (a switch to T.38, where gateways may send UDPTL from
    /// another port than their RTP). RFC 4961 section 3
    public func relearnSource() {
        isLocked = false
        candidateCount = 0
    }

    /// Locks the socket to the source of the datagram `receive` returned last: the channel found
    /// it to be its media. No-op without latching or when already locked. RFC 4961 section 3
    public func confirmSource() {
        guard latchToSource, !isLocked, lastSourceLength > 0 else { return }
        if !(signalledLength > 0 && UDPSocket.sameEndpoint(lastSource, signalled, signalledLength)) {
            if candidateLength > 0 && UDPSocket.sameEndpoint(lastSource, candidate, candidateLength) {
                candidateCount += 1
            } else {
                candidate = lastSource
                candidateLength = lastSourceLength
                candidateCount = 1
            }
            guard candidateCount >= Self.probation else { return }
        }
        remote = lastSource
        remoteLength = lastSourceLength
        isLocked = true
        candidateCount = 0
        lastFromRemote = Self.monotonicNanoseconds()
    }

    /// A coarse monotonic clock (vDSO, no system call): enough to tell a silent source.
    @inline(__always)
    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    /// Forgets the remote; `send` drops until one is set or latched. RFC 4961 section 3
    public func clearRemote() {
        remoteLength = 0
        signalledLength = 0
        lastFromSignalled = 0
        isLocked = false
        candidateCount = 0
    }

    /// The current destination as "addr:port" or "[addr]:port", nil if none; formatted on demand (allocates). RFC 4961 section 3
    public var remoteDescription: String? {
        guard remoteLength > 0 else { return nil }
        return UDPSocket.describe(remote)
    }

    /// True until `close()`. RFC 768
    public var isOpen: Bool { fd >= 0 }

    /// Closes the descriptor; further sends drop and receives return nil. RFC 768
    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Non-blocking receive of one datagram; latches the remote to its source when enabled.
    /// Datagrams are read in batches with one recvmmsg(2); after a batch that came back short the
    /// next call returns nil without a system call (the socket was empty then: what arrives later
    /// is read on the next tick). RFC 4961 section 3
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard fd >= 0, let base = buffer.baseAddress else { return nil }
        // Bounded like the channels' loops: a flood of foreign or oversized datagrams must not keep
        // one call's receive spinning; what is left waits for the next tick (or the kernel drops it).
        var skipped = 0
        while skipped < Self.maxSkippedPerReceive {
            if batchNext == batchCount {
                if drained {
                    drained = false
                    return nil
                }
                guard refill() else { return nil }
            }
            let i = batchNext
            batchNext += 1
            let length = batchLengths[i]
            if length > Self.datagramCapacity {
                oversizedDatagrams += 1
                skipped += 1
                continue
            }
            let source = batchSources[i]
            if latchToSource {
                let fromSignalled = signalledLength > 0 && UDPSocket.sameEndpoint(source, signalled, signalledLength)
                if fromSignalled { lastFromSignalled = Self.monotonicNanoseconds() }
                if !isLocked && !fromSignalled && lastFromSignalled != 0
                    && Self.monotonicNanoseconds() &- lastFromSignalled < Self.takeoverSilence {
                    // Not locked yet, but the address SDP gave is talking: a stranger's datagrams
                    // (sprayed at the port before the stream is confirmed) must not take the
                    // stream from it. Another source may follow only once it has gone quiet.
                    foreignDatagrams += 1
                    skipped += 1
                    continue
                }
                if !UDPSocket.sameEndpoint(source, remote, remoteLength) {
                    // Locked: the address SDP gave always gets through (a stale stream to a
                    // reused port may have been confirmed before the real one started), any
                    // other once the locked source has gone quiet; the rest is foreign.
                    if isLocked && !(signalledLength > 0 && UDPSocket.sameEndpoint(source, signalled, signalledLength))
                        && Self.monotonicNanoseconds() &- lastFromRemote < Self.takeoverSilence {
                        foreignDatagrams += 1
                        skipped += 1
                        continue
                    }
                    remote = source
                    remoteLength = socklen_t(batchSourceLengths[i])
                    remoteChanges += 1
                    isLocked = false
                    candidateCount = 0
                } else if isLocked {
                    lastFromRemote = Self.monotonicNanoseconds()
                }
            }
            lastSource = source
            lastSourceLength = socklen_t(batchSourceLengths[i])
            let count = min(length, buffer.count)
            base.copyMemory(from: batch + i * Self.datagramCapacity, byteCount: count)
            return count
        }
        // Gave up at the cap: what is left of this batch is read next time, and the socket may
        // hold more, so the next call must not take a short batch as "empty".
        drained = false
        return nil
    }

    /// Reads the next batch; false when nothing was waiting (or the socket failed).
    private func refill() -> Bool {
        let n = cnet_receive_batch(fd, batch, Self.datagramCapacity, Int32(Self.batchSize), batchLengths,
                                   batchSources, UInt32(MemoryLayout<sockaddr_storage>.size), batchSourceLengths)
        batchNext = 0
        batchCount = max(0, Int(n))
        drained = batchCount > 0 && batchCount < Self.batchSize
        return batchCount > 0
    }

    /// Sends one datagram to the current remote; drops (and counts) when none is known or the kernel refuses. RFC 768
    public func send(_ bytes: UnsafeRawBufferPointer) {
        guard fd >= 0, remoteLength > 0 else {
            droppedSends += 1
            return
        }
        let rc = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL), $0, remoteLength)
            }
        }
        // EAGAIN means the send buffer is full: dropping is right for real-time media.
        if rc < 0 { droppedSends += 1 }
    }

    // MARK: - Address helpers (not on the per-packet path except sameEndpoint)

    private struct Address {
        var storage: sockaddr_storage
        var length: socklen_t
    }

    /// Parses a numeric host (brackets allowed, IPv6 scope allowed) without DNS.
    private static func resolve(_ host: String, port: UInt16) -> Address? {
        var literal = Substring(host)
        if literal.hasPrefix("["), literal.hasSuffix("]") {
            literal = literal.dropFirst().dropLast()
        }
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(String(literal), String(port), &hints, &result) == 0, let info = result else {
            return nil
        }
        defer { freeaddrinfo(result) }
        var address = Address(storage: sockaddr_storage(), length: info.pointee.ai_addrlen)
        withUnsafeMutableBytes(of: &address.storage) { dst in
            dst.baseAddress!.copyMemory(from: info.pointee.ai_addr, byteCount: Int(info.pointee.ai_addrlen))
        }
        return address
    }

    private static func v4Mapped(_ v4: sockaddr_storage) -> Address {
        var source = v4
        let sin = withUnsafeBytes(of: &source) { $0.load(as: sockaddr_in.self) }
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = sin.sin_port
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { a in
            a[10] = 0xFF
            a[11] = 0xFF
            withUnsafeBytes(of: sin.sin_addr) { v in
                for i in 0..<4 { a[12 + i] = v[i] }
            }
        }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sin6, as: sockaddr_in6.self) }
        return Address(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
    }

    private static func port(of storage: sockaddr_storage) -> UInt16 {
        withUnsafeBytes(of: storage) { raw in
            switch Int32(storage.ss_family) {
            case AF_INET: return UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
            case AF_INET6: return UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            default: return 0
            }
        }
    }

    /// Compares family, port, address (and IPv6 scope) only, ignoring padding and flow info.
    private static func sameEndpoint(_ a: sockaddr_storage, _ b: sockaddr_storage, _ bLength: socklen_t) -> Bool {
        guard bLength > 0, a.ss_family == b.ss_family else { return false }
        return withUnsafeBytes(of: a) { ra in
            withUnsafeBytes(of: b) { rb in
                switch Int32(a.ss_family) {
                case AF_INET:
                    let x = ra.load(as: sockaddr_in.self), y = rb.load(as: sockaddr_in.self)
                    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr
                case AF_INET6:
                    let x = ra.load(as: sockaddr_in6.self), y = rb.load(as: sockaddr_in6.self)
                    guard x.sin6_port == y.sin6_port, x.sin6_scope_id == y.sin6_scope_id else { return false }
                    return withUnsafeBytes(of: x.sin6_addr) { xa in
                        withUnsafeBytes(of: y.sin6_addr) { ya in
                            memcmp(xa.baseAddress!, ya.baseAddress!, 16) == 0
                        }
                    }
                default:
                    return false
                }
            }
        }
    }

    private static func describe(_ storage: sockaddr_storage) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = Int32(storage.ss_family)
        let ok: Bool = withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET:
                var a = raw.load(as: sockaddr_in.self).sin_addr
                return inet_ntop(AF_INET, &a, &text, socklen_t(text.count)) != nil
            case AF_INET6:
                var a = raw.load(as: sockaddr_in6.self).sin6_addr
                return inet_ntop(AF_INET6, &a, &text, socklen_t(text.count)) != nil
            default:
                return false
            }
        }
        guard ok else { return "?" }
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let port = port(of: storage)
        return family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
