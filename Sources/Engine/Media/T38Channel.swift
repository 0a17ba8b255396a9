import Fax
import Media

/// One call's T.38 media on a shard: UDPTL datagrams in, redundancy/FEC recovery, spandsp T.38
/// terminal paced by the shard clock, IFPs out as UDPTL with redundancy. Shares the call's socket
/// (the UDPTL port is the RTP port). Confined to its shard queue; `tick` does not lock, log or
/// allocate (UDPTL keeps fixed history rings).
public final class T38Channel: MediaTickable, T38PacketSink, @unchecked Sendable {
    private let transport: PacketTransport
    private var encoder: UDPTLEncoder
    private var decoder: UDPTLDecoder
    private var terminal: T38FaxTerminal!
    private var watch: ChannelWatch
    private let onFinish: @Sendable (ChannelReport) -> Void
    private let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
    private let sendBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
    private var finished = false
    private var counters = MediaCounters()
    /// Tones heard in audio before the switch, carried into the report.
    private var tones = FaxTones()

    /// - Parameters:
    ///   - errorCorrection: what we send (redundancy depth or FEC); we receive either.
    ///   - farMaxDatagram: the far side's T38FaxMaxDatagram (400 when absent, capped at 1400).
    public init(transport: PacketTransport, job: FaxJob, callingParty: Bool, options: FaxOptions,
                errorCorrection: UDPTLErrorCorrection, farMaxDatagram: Int, t38Version: Int, maxBitRate: Int,
                silenceTimeoutSeconds: Int, maxCallSeconds: Int, progress: FaxProgress? = nil,
                onFinish: @escaping @Sendable (ChannelReport) -> Void) throws(FaxError) {
        self.transport = transport
        encoder = UDPTLEncoder(errorCorrection: errorCorrection, maxDatagram: farMaxDatagram)
        decoder = UDPTLDecoder()
        watch = ChannelWatch(silenceTimeoutSeconds: silenceTimeoutSeconds, maxCallSeconds: maxCallSeconds)
        self.onFinish = onFinish
        let session = T38Session(version: t38Version, maxIFPSize: encoder.recommendedIFPSize, maxBitRate: maxBitRate)
        terminal = try T38FaxTerminal(job: job, callingParty: callingParty, options: options, session: session, sink: self, progress: progress)
    }

    deinit {
        receiveBuffer.deallocate()
        sendBuffer.deallocate()
    }

    /// Records the tones the audio channel heard before the switch. Shard queue.
    public func inherit(tones: FaxTones) { self.tones = tones }

    /// Where the terminal's T.30 session is. Shard queue (or between a manual clock's advances).
    public var phase: T30Phase { terminal.phase }

    /// Stops the call now and reports. Shard queue. Idempotent.
    public func stop() { finish(.stopped) }

    public func sendIFP(_ ifp: UnsafeRawBufferPointer, repeatCount: Int) {
        guard let written = try? encoder.encode(ifp: ifp, into: sendBuffer), written > 0 else {
            counters.malformed += 1
            return
        }
        let datagram = UnsafeRawBufferPointer(rebasing: sendBuffer[0..<written])
        for _ in 0..<max(1, repeatCount) {
            transport.send(datagram)
            counters.packetsSent += 1
        }
    }

    public func tick(_ tick: UInt64) -> Bool {
        if finished { return false }
        watch.begin(tick)
        var received = false
        for _ in 0..<32 {
            guard let count = transport.receive(into: receiveBuffer) else { break }
            let terminal = self.terminal!
            do {
                try decoder.receive(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count])) { seq, ifp in
                    terminal.receiveIFP(ifp, sequence: seq)
                }
                // Like RTP: only datagrams that decode count as media heard.
                received = true
                counters.packetsReceived += 1
                transport.confirmSource()
            } catch {
                counters.malformed += 1
            }
        }
        if received {
            watch.heard(tick)
        } else if decoder.heldPacketCount > 0 && watch.quietTicks(tick) >= 5 {
            // Packets held behind a gap that will not be filled: deliver them (UDPTL reorder hold).
            let terminal = self.terminal!
            decoder.flush { seq, ifp in terminal.receiveIFP(ifp, sequence: seq) }
        }
        terminal.advance(samples: 160)
        // While we send a page the receiver sends nothing at all (T.38 has no audio stream to
        // keep up); only T.30's own timers can tell a dead peer then, and they run after the page.
        if terminal.phase.isSendingPage { watch.quietByDesign(tick) }
        if let reason = watch.check(tick, faxComplete: terminal.isComplete, phase: terminal.phase) { finish(reason) }
        return !finished
    }

    private func finish(_ reason: ChannelEndReason) {
        guard !finished else { return }
        finished = true
        let completed = terminal.isComplete
        let stats = decoder.statistics
        counters.udptlRecovered = stats.recoveredByRedundancy + stats.recoveredByFEC
        counters.udptlLost = stats.lost
        counters.remote = transport.remoteDescription
        counters.foreign = transport.foreignDatagrams
        counters.oversized = transport.oversizedDatagrams
        let counters = self.counters, onFinish = self.onFinish, tones = self.tones
        // The report waits for the received TIFF's last writes (off the shard), as on audio.
        terminal.hangUp(then: { fax in
            onFinish(ChannelReport(reason: reason, faxCompleted: completed, fax: fax, tones: tones, media: counters))
        })
    }
}
