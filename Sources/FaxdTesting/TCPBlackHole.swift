import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP port that takes connections and never answers: the kernel completes each handshake
/// into the listen backlog and nothing ever accepts or reads, so a client's request waits until
/// its own timeout (a receiver that hangs). `close()` frees the port; the connections waiting in
/// the backlog are reset, their requests never read by anything.
public final class TCPBlackHole: @unchecked Sendable {
    private var fd: Int32

    public init(port: Int) throws {
        fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, bound == 0, Glibc.listen(fd, 64) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "listen on 127.0.0.1:\(port): \(String(cString: strerror(e)))"])
        }
    }

    deinit { close() }

    public func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }
}
