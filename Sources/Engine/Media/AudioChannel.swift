import Fax
import Media

/// Why a media channel stopped.
public enum ChannelEndReason: Sendable, Equatable {
    /// T.30 reached phase E (success or a T.30 failure).
    case faxComplete
    /// No media arrived for the silence timeout; T.30 was in `phase`.
    case mediaTimeout(seconds: Int, phase: T30Phase)
    /// The call ran longer than the configured maximum.
    case maxDuration(seconds: Int)
    /// Stopped from outside: remote hangup, shutdown.
    case stopped
}

/// What a channel hands back when it stops: copied values only.
public struct ChannelReport: Sendable {
    public var reason: ChannelEndReason
    /// True when T.30 had reached phase E before the channel stopped.
    public var faxCompleted: Bool
    public var fax: FaxTransferResult
    public var tones: FaxTones
    public var media: MediaCounters
}

/// RTP figures for one call.
public struct MediaCounters: Sendable, Equatable, Codable {
    public var packetsReceived = 0
    public var packetsSent = 0
    public var rtcpReceived = 0
    public var malformed = 0
    public var otherPayloadTypes = 0
    public var lateOrLost20ms = 0
    public var jitterLate = 0
    public var jitterResyncs = 0
    /// UDPTL: IFPs recovered from redundancy or FEC, and sequence numbers never recovered.
    public var udptlRecovered = 0
    public var udptlLost = 0
    /// Datagrams dropped unread: from an address other than the call's confirmed media source,
    /// or longer than any media datagram.
    public var foreign = 0
    public var oversized = 0
    public var remote: String?

    enum CodingKeys: String, CodingKey {
        case packetsReceived = "packets_received", packetsSent = "packets_sent", rtcpReceived = "rtcp_received"
        case malformed, otherPayloadTypes = "other_payload_types", lateOrLost20ms = "frames_with_loss"
        case jitterLate = "jitter_late", jitterResyncs = "jitter_resyncs", remote
        case udptlRecovered = "udptl_recovered", udptlLost = "udptl_lost", foreign, oversized
    }
}

/// One call's media on a shard: RTP in, jitter buffer, G.711, spandsp audio fax terminal, G.711,
/// RTP out, every 20 ms. Confined to its shard queue from `tick` on; nothing in `tick` allocates,
/// locks or logs. All buffers are allocated in init.
public final class AudioChannel: MediaTickable, @unchecked Sendable {
    private static let frameSamples = 160
    private static let blockSamples = 40

    private let transport: PacketTransport
    private var law: G711Law
    private var payloadType: UInt8
    private let jitter: JitterBuffer
    private let terminal: any FaxAudioEndpoint
    private var watch: ChannelWatch
    private let onFinish: @Sendable (ChannelReport) -> Void

    private let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
    private let sendBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 12 + 160, alignment: 8)
    private let g711Frame = UnsafeMutableRawBufferPointer.allocate(byteCount: 160, alignment: 8)
    private let pcm = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 160)
    private let valid = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 160 / 40)

    private var txHeader: RTPHeader
    private var finished = false
    private var counters = MediaCounters()
    /// Called once, on the shard, when the far end's CNG is first heard (T.38 request trigger).
    private var onCNG: (@Sendable () -> Void)?

    /// - Parameters:
    ///   - transport: the call's RTP socket (or an in-memory pipe in tests).
    ///   - law/payloadType: negotiated codec for both directions.
    ///   - jitterMilliseconds: fixed playout delay.
    public init(transport: PacketTransport, law: G711Law, payloadType: UInt8, terminal: any FaxAudioEndpoint,
                jitterMilliseconds: Int, silenceTimeoutSeconds: Int, maxCallSeconds: Int, ssrc: UInt32,
                onFinish: @escaping @Sendable (ChannelReport) -> Void) {
        self.transport = transport
        self.law = law
        self.payloadType = payloadType
        self.terminal = terminal
        self.jitter = JitterBuffer(depthSamples: jitterMilliseconds * 8, capacitySamples: 4096,
                                   blockSamples: Self.blockSamples, silenceByte: law.silenceByte)
        self.watch = ChannelWatch(silenceTimeoutSeconds: silenceTimeoutSeconds, maxCallSeconds: maxCallSeconds)
        self.onFinish = onFinish
        self.txHeader = RTPHeader(payloadType: payloadType, marker: true,
                                  sequenceNumber: UInt16(truncatingIfNeeded: ssrc >> 7),
                                  timestamp: ssrc &* 2654435761, ssrc: ssrc)
    }

    deinit {
        receiveBuffer.deallocate()
        sendBuffer.deallocate()
        g711Frame.deallocate()
        pcm.deallocate()
        valid.deallocate()
    }

    /// Asks to be told once when CNG is heard. Shard queue.
    public func notifyOnCNG(_ handler: @escaping @Sendable () -> Void) {
        if terminal.tones.cng { handler() } else { onCNG = handler }
    }

    /// Switches codec after a re-INVITE. Shard queue.
    public func changeCodec(law: G711Law, payloadType: UInt8) {
        self.law = law
        self.payloadType = payloadType
        txHeader.payloadType = payloadType
    }

    /// Stops the call now (remote hangup, shutdown) and reports. Shard queue. Idempotent.
    public func stop() {
        finish(.stopped)
    }

    /// Ends this channel without a report because the call continues on another channel (switch
    /// to T.38). Its T.30 session is discarded; the fax restarts on the new terminal. Shard queue.
    @discardableResult
    public func handOver() -> FaxTones {
        guard !finished else { return terminal.tones }
        finished = true
        terminal.hangUp(then: { _ in })
        return terminal.tones
    }

    /// Tones heard so far.
    public var tones: FaxTones { terminal.tones }

    public func tick(_ tick: UInt64) -> Bool {
        if finished { return false }
        watch.begin(tick)
        receivePackets(tick)
        feedTerminal()
        transmitFrame()
        // Test the flag first: binding the closure every tick would retain it 50 times a second.
        if onCNG != nil && terminal.tones.cng {
            let handler = onCNG!
            onCNG = nil
            handler()
        }
        if let reason = watch.check(tick, faxComplete: terminal.isComplete, phase: terminal.phase) { finish(reason) }
        return !finished
    }

    private func receivePackets(_ tick: UInt64) {
        // Bounded: a flood on one socket must not starve the other channels of this shard.
        for _ in 0..<16 {
            guard let datagram = RTPDatagram.next(from: transport, into: receiveBuffer) else { return }
            let packet: RTPPacket
            switch datagram {
            case .rtcp:
                counters.rtcpReceived += 1
                continue
            case .malformed:
                counters.malformed += 1
                continue
            case .packet(let parsed):
                packet = parsed
            }
            guard packet.header.payloadType == payloadType else {
                // telephone-event and comfort noise are accepted on the wire and ignored.
                counters.otherPayloadTypes += 1
                continue
            }
            counters.packetsReceived += 1
            transport.confirmSource()
            watch.heard(tick)
            _ = jitter.insert(timestamp: packet.header.timestamp, payload: packet.payload)
        }
    }

    private func feedTerminal() {
        let n = Self.frameSamples
        switch jitter.pop(frameSamples: n, into: g711Frame, validBlocks: valid) {
        case .buffering:
            // Nothing to play yet: spandsp's timers still need the time to pass.
            terminal.fillIn(n)
        case .frame(let missing):
            let pcmSlice = pcm
            _ = G711.decode(law, UnsafeRawBufferPointer(g711Frame), into: pcmSlice)
            if missing == 0 {
                terminal.receive(pcmSlice)
                return
            }
            counters.lateOrLost20ms += 1
            // Feed received runs as audio and missing runs as fill-in, in order.
            let blocks = n / Self.blockSamples
            var start = 0
            while start < blocks {
                var end = start
                while end < blocks && valid[end] == valid[start] { end += 1 }
                let samples = (end - start) * Self.blockSamples
                if valid[start] {
                    terminal.receive(UnsafeMutableBufferPointer(rebasing: pcmSlice[(start * Self.blockSamples)..<(start * Self.blockSamples + samples)]))
                } else {
                    terminal.fillIn(samples)
                }
                start = end
            }
        }
    }

    private func transmitFrame() {
        terminal.transmit(into: pcm)
        // g711Frame is free again: the received frame was decoded in feedTerminal.
        _ = G711.encode(law, UnsafeBufferPointer(pcm), into: g711Frame)
        let written = writeRTP(header: txHeader, payload: UnsafeRawBufferPointer(g711Frame), into: sendBuffer)
        if written > 0 {
            transport.send(UnsafeRawBufferPointer(rebasing: sendBuffer[0..<written]))
            counters.packetsSent += 1
        }
        txHeader.marker = false
        txHeader.sequenceNumber &+= 1
        txHeader.timestamp &+= UInt32(Self.frameSamples)
    }

    private func finish(_ reason: ChannelEndReason) {
        guard !finished else { return }
        finished = true
        let completed = terminal.isComplete
        let stats = jitter.statistics
        counters.jitterLate = stats.late
        counters.jitterResyncs = stats.resyncs
        counters.remote = transport.remoteDescription
        counters.foreign = transport.foreignDatagrams
        counters.oversized = transport.oversizedDatagrams
        let counters = self.counters, onFinish = self.onFinish
        // A received document's last pages may still be on their way to the TIFF (written off the
        // shard): the report goes out once the file is complete, so whoever takes it can read it.
        terminal.hangUp(then: { [tones = terminal.tones] fax in
            onFinish(ChannelReport(reason: reason, faxCompleted: completed, fax: fax, tones: tones, media: counters))
        })
    }
}
