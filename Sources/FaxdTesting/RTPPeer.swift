import Foundation
import Media
import Synchronization
import Voice

#if canImport(Glibc)
import Glibc
#endif

/// The media end of a far party in voice tests: a UDP socket on 127.0.0.1 that a SIPp scenario
/// advertises in its SDP (`-key rtpport N`), so SIP comes from SIPp and RTP from here. On a
/// thread of its own it sends a PCMU frame every 20 ms (silence, or what `audio` returns for the
/// frame), RFC 4733 digits when asked, and keeps everything it receives: the audio decoded, and
/// every telephone-event packet. The remote address is learnt from the first packet received.
public final class RTPPeer: @unchecked Sendable {
    public let port: UInt16
    private let fd: Int32
    private let state = Mutex(State())
    private let running = Atomic<Bool>(true)
    private var thread: Thread?

    public struct EventPacket: Sendable, Equatable {
        public var timestamp: UInt32
        public var event: UInt8
        public var end: Bool
        public var marker: Bool
    }

    struct State {
        var remote: sockaddr_in?
        var received: [Int16] = []
        var events: [EventPacket] = []
        var audioPackets = 0
        var sendAudio: (@Sendable (Int) -> [Int16])?
        /// Raw mu-law payloads to send instead of `sendAudio` (frame n since `playRaw`).
        var sendRaw: (@Sendable (Int) -> [UInt8])?
        /// Each audio packet received: CLOCK_MONOTONIC arrival (ns) and payload.
        var frames: [(at: UInt64, payload: [UInt8])] = []
        /// CLOCK_MONOTONIC time each frame was sent since `play`/`playRaw` (index = frame number).
        var sentAt: [UInt64] = []
        /// Frames sent since `play` was last called.
        var playFrame = 0
        var digitsToSend: [UInt8] = []
        var sentDigits = 0
    }

    /// Binds 127.0.0.1 on a free even port of a fresh TestPorts RTP block and starts the 20 ms loop.
    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw RTPPeerError("socket: errno \(errno)") }
        self.fd = fd
        // A block of TestPorts' RTP ranges nobody else in this run uses: a random port could be
        // one TestPorts hands out as some engine's SIP port.
        var chosen: UInt16 = 0
        for candidate in TestPorts.allocate().rtp where candidate % 2 == 0 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = candidate.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 {
                chosen = candidate
                break
            }
        }
        guard chosen != 0 else {
            close(fd)
            throw RTPPeerError("no free UDP port in the test's RTP block")
        }
        port = chosen
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let thread = Thread { [self] in loop() }
        thread.name = "rtp-peer-\(chosen)"
        self.thread = thread
        thread.start()
    }

    deinit { stop() }

    /// Stops the loop and closes the socket.
    public func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        Thread.sleep(forTimeInterval: 0.05)
        close(fd)
    }

    /// What to send from now on: `frame(n)` gives the 160 samples of the n-th frame (counted
    /// from this call); nil sends silence.
    public func play(_ frame: (@Sendable (Int) -> [Int16])?) {
        state.withLock {
            $0.sendAudio = frame
            $0.sendRaw = nil
            $0.playFrame = 0
            $0.sentAt = []
        }
    }

    /// Sends these mu-law payloads from now on (`frame(n)`, n counted from this call), byte for
    /// byte; `sentTimes[n]` is when frame n left.
    public func playRaw(_ frame: @escaping @Sendable (Int) -> [UInt8]) {
        state.withLock {
            $0.sendRaw = frame
            $0.sendAudio = nil
            $0.playFrame = 0
            $0.sentAt = []
        }
    }

    /// Every audio packet received so far: its CLOCK_MONOTONIC arrival (ns) and payload.
    public var receivedFrames: [(at: UInt64, payload: [UInt8])] { state.withLock { $0.frames } }
    /// When each frame since `play`/`playRaw` was sent (CLOCK_MONOTONIC ns).
    public var sentTimes: [UInt64] { state.withLock { $0.sentAt } }

    /// CLOCK_MONOTONIC in nanoseconds (what Python's time.clock_gettime_ns(CLOCK_MONOTONIC) reads).
    public static func monotonicNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Sends these keys as RFC 4733 events (payload type 101): each 100 ms with three end
    /// packets, then 100 ms apart.
    public func sendDigits(_ digits: String) {
        let codes = digits.compactMap { DTMFKey($0)?.eventCode }
        state.withLock { $0.digitsToSend += codes }
    }

    /// Audio received so far, decoded (8 kHz).
    public var receivedAudio: [Int16] { state.withLock { $0.received } }
    /// Audio packets received.
    public var audioPackets: Int { state.withLock { $0.audioPackets } }
    /// Telephone-event packets received, in order.
    public var eventPackets: [EventPacket] { state.withLock { $0.events } }
    /// True once faxd's first packet arrived.
    public var hasRemote: Bool { state.withLock { $0.remote != nil } }

    /// The keys received as RFC 4733 events: one per event (its RTP timestamp), in order.
    public var receivedDigits: String {
        var seen = Set<UInt32>()
        var keys = ""
        for packet in eventPackets where seen.insert(packet.timestamp).inserted {
            if let key = DTMFKey(eventCode: packet.event) { keys += key.description }
        }
        return keys
    }

    private func loop() {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var sequence = UInt16.random(in: 0...UInt16.max)
        var timestamp = UInt32.random(in: 0...UInt32.max)
        let ssrc = UInt32.random(in: 1...UInt32.max)
        var frameIndex = 0
        var digit: (code: UInt8, start: UInt32, ticks: Int)?
        var gapTicks = 0
        var next = DispatchTime.now().uptimeNanoseconds
        while running.load(ordering: .relaxed) {
            drain(&buffer)
            // Send one frame (and an event packet while a digit sounds).
            let (remote, source, raw, playFrame, queued) = state.withLock { s -> (sockaddr_in?, (@Sendable (Int) -> [Int16])?, (@Sendable (Int) -> [UInt8])?, Int, UInt8?) in
                var code: UInt8?
                if digit == nil && gapTicks == 0 && !s.digitsToSend.isEmpty { code = s.digitsToSend.removeFirst() }
                if s.remote != nil { s.playFrame += 1 }
                return (s.remote, s.sendAudio, s.sendRaw, s.playFrame - 1, code)
            }
            if let remote {
                var payload = [UInt8](repeating: 0xFF, count: 160)
                if let raw {
                    let bytes = raw(playFrame)
                    for i in 0..<min(160, bytes.count) { payload[i] = bytes[i] }
                } else {
                    let samples = source?(playFrame) ?? [Int16](repeating: 0, count: 160)
                    for i in 0..<min(160, samples.count) { payload[i] = G711.linearToULaw(samples[i]) }
                }
                let now = Self.monotonicNanoseconds()
                state.withLock { $0.sentAt.append(now) }
                send(RTPHeader(payloadType: 0, marker: frameIndex == 0, sequenceNumber: sequence, timestamp: timestamp, ssrc: ssrc),
                     payload, to: remote)
                sequence &+= 1
                if let code = queued { digit = (code, timestamp, 0) }
                if var current = digit {
                    current.ticks += 1
                    let end = current.ticks >= 5
                    var event = [UInt8](repeating: 0, count: 4)
                    let duration = UInt16(current.ticks * 160)
                    TelephoneEvent(event: current.code, end: end, volume: 10, duration: duration).write(into: &event)
                    for _ in 0..<(end ? 3 : 1) {
                        send(RTPHeader(payloadType: 101, marker: current.ticks == 1, sequenceNumber: sequence, timestamp: current.start, ssrc: ssrc),
                             event, to: remote)
                        sequence &+= 1
                    }
                    if end {
                        digit = nil
                        gapTicks = 5
                    } else {
                        digit = current
                    }
                } else if gapTicks > 0 {
                    gapTicks -= 1
                }
                timestamp &+= 160
                frameIndex += 1
            }
            next += 20_000_000
            // Wait for the next frame's time, taking packets as they arrive (their arrival times
            // are what echo measurements read).
            while true {
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= next {
                    // Keep an absolute 20 ms schedule (a phone's clock does not slip a little
                    // every frame); only when far behind (a stalled machine) go on from now.
                    if now - next > 100_000_000 { next = now }
                    break
                }
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&poller, 1, Int32(max(1, (next - now) / 1_000_000))) > 0 { drain(&buffer) }
            }
        }
    }

    /// Takes every packet waiting on the socket.
    private func drain(_ buffer: inout [UInt8]) {
        while true {
            var from = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length) }
                }
            }
            guard n > 0 else { break }
            buffer.withUnsafeBytes { raw in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                guard let packet = try? RTPPacket.parse(bytes) else { return }
                state.withLock { s in
                    if s.remote == nil { s.remote = from }
                    if packet.header.payloadType == 0 {
                        s.audioPackets += 1
                        s.frames.append((Self.monotonicNanoseconds(), Array(packet.payload)))
                        for byte in packet.payload { s.received.append(G711.ulawToLinear(byte)) }
                    } else if packet.header.payloadType == 101, let event = TelephoneEvent.parse(packet.payload) {
                        s.events.append(EventPacket(timestamp: packet.header.timestamp, event: event.event, end: event.end,
                                                    marker: packet.header.marker))
                    }
                }
            }
        }
    }

    private func send(_ header: RTPHeader, _ payload: [UInt8], to remote: sockaddr_in) {
        var packet = [UInt8](repeating: 0, count: RTPHeader.fixedSize + payload.count)
        let written = packet.withUnsafeMutableBytes { out in
            payload.withUnsafeBytes { writeRTP(header: header, payload: $0, into: out) }
        }
        var to = remote
        _ = packet.withUnsafeBytes { raw in
            withUnsafePointer(to: &to) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, raw.baseAddress, written, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }
}

extension TelephoneEvent {
    func write(into bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { write(into: $0) }
    }
}

public struct RTPPeerError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Measures tones in received audio.
public enum ToneMeter {
    /// Power of `frequency` (Goertzel) relative to the block's total power, 0...1, over `samples`.
    public static func share(of frequency: Double, in samples: ArraySlice<Int16>) -> Double {
        guard !samples.isEmpty else { return 0 }
        let coefficient = 2 * cos(2 * Double.pi * frequency / 8000)
        var s1 = 0.0, s2 = 0.0, total = 0.0
        for sample in samples {
            let x = Double(sample)
            total += x * x
            let s0 = x + coefficient * s1 - s2
            s2 = s1
            s1 = s0
        }
        let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        guard total > 0 else { return 0 }
        return min(1, 2 * power / (Double(samples.count) * total))
    }

    /// A sine tone's frames for `RTPPeer.play`.
    public static func tone(_ frequency: Double, amplitude: Double = 8000) -> @Sendable (Int) -> [Int16] {
        { frame in
            (0..<160).map { i in
                let n = Double(frame * 160 + i)
                return Int16((amplitude * sin(2 * Double.pi * frequency * n / 8000)).rounded())
            }
        }
    }
}
