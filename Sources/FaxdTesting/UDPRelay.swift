import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A small UDP relay that puts an engine "behind" another loopback address: every port of the
/// engine (SIP and its RTP/UDPTL range) is mirrored on `frontHost`; datagrams arriving there go to
/// the engine on `backHost`, the engine's replies go back to whoever last sent to that port.
/// Datagrams on the `lossy` ports are dropped with probability `lossRate` (deterministic PRNG).
/// Configure the engine with `public_address = frontHost` so its SDP and Contact point here.
public final class UDPRelay: @unchecked Sendable {
    private struct Port {
        var fd: Int32
        var port: UInt16
        var lossy: Bool
        var peer: sockaddr_in?
    }

    private var ports: [Port] = []
    private let backHost: String
    private var loss: DeterministicLoss
    private let running = Atomic<Bool>(true)
    private var thread: Thread?
    /// Datagrams forwarded and dropped, readable after `stop()`.
    public private(set) var forwarded = 0
    public private(set) var dropped = 0

    public init(frontHost: String, backHost: String = "127.0.0.1", sipPort: UInt16, mediaPorts: ClosedRange<UInt16>,
                lossRate: Double, seed: UInt64) throws {
        self.backHost = backHost
        loss = DeterministicLoss(rate: lossRate, seed: seed)
        for (port, lossy) in [(sipPort, false)] + mediaPorts.map({ ($0, true) }) {
            // CLOEXEC: a SIPp or faxd started by another test must not inherit (and keep) these ports.
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = Self.address(frontHost, port)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard fd >= 0, bound == 0 else {
                close(fd)
                ports.forEach { close($0.fd) }
                throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "relay cannot bind \(frontHost):\(port): \(String(cString: strerror(errno)))"])
            }
            ports.append(Port(fd: fd, port: port, lossy: lossy, peer: nil))
        }
        let thread = Thread { [self] in loop() }
        thread.name = "udp-relay"
        self.thread = thread
        thread.start()
    }

    static func address(_ host: String, _ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    private func loop() {
        var pollfds = ports.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        var buffer = [UInt8](repeating: 0, count: 2048)
        let back = inet_addr(backHost)
        while running.load(ordering: .relaxed) {
            guard poll(&pollfds, nfds_t(pollfds.count), 100) > 0 else { continue }
            for i in pollfds.indices where pollfds[i].revents & Int16(POLLIN) != 0 {
                var source = sockaddr_in()
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let count = buffer.withUnsafeMutableBytes { raw in
                    withUnsafeMutablePointer(to: &source) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(ports[i].fd, raw.baseAddress, raw.count, 0, $0, &length) }
                    }
                }
                guard count > 0 else { continue }
                var destination: sockaddr_in
                if source.sin_addr.s_addr == back && source.sin_port == ports[i].port.bigEndian {
                    guard let peer = ports[i].peer else { continue }
                    destination = peer
                } else {
                    ports[i].peer = source
                    destination = Self.address(backHost, ports[i].port)
                }
                if ports[i].lossy && loss.rate > 0 && loss.drop() {
                    dropped += 1
                    continue
                }
                forwarded += 1
                _ = buffer.withUnsafeBytes { raw in
                    withUnsafePointer(to: &destination) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(ports[i].fd, raw.baseAddress, count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                        }
                    }
                }
            }
        }
    }

    /// Stops forwarding and closes the sockets.
    public func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        while thread?.isExecuting == true { Thread.sleep(forTimeInterval: 0.01) }
        ports.forEach { close($0.fd) }
    }

    deinit { stop() }
}
