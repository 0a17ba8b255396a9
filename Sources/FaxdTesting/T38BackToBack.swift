import Fax
import Media

/// Two T.38 terminals wired back to back through real UDPTL encoders and decoders on a manual clock,
/// with optional deterministic datagram loss. No sockets, no wall clock.
public final class T38BackToBack {
    /// Queues the datagrams one side sends, UDPTL-encoded, for the other side.
    final class Link: T38PacketSink {
        var encoder: UDPTLEncoder
        var queue: [[UInt8]] = []
        var loss: DeterministicLoss
        var sent = 0
        var dropped = 0
        var encodeFailures = 0
        private var buffer = [UInt8](repeating: 0, count: 1500)

        init(errorCorrection: UDPTLErrorCorrection, lossRate: Double, seed: UInt64) {
            encoder = UDPTLEncoder(errorCorrection: errorCorrection, maxDatagram: 400)
            loss = DeterministicLoss(rate: lossRate, seed: seed)
        }

        func sendIFP(_ ifp: UnsafeRawBufferPointer, repeatCount: Int) {
            let count = buffer.withUnsafeMutableBytes { out in (try? encoder.encode(ifp: ifp, into: out)) ?? 0 }
            guard count > 0 else {
                encodeFailures += 1
                return
            }
            for _ in 0..<max(1, repeatCount) {
                sent += 1
                if loss.drop() {
                    dropped += 1
                    continue
                }
                queue.append(Array(buffer[0..<count]))
            }
        }
    }

    public struct Outcome {
        public var sender: FaxTransferResult
        public var receiver: FaxTransferResult
        public var seconds: Double
        public var datagrams: Int
        public var dropped: Int
        public var recoveredByRedundancy: Int
        /// IFPs the UDPTL encoder refused and datagrams the decoder rejected: 0 unless UDPTL broke.
        public var udptlFailures: Int
        /// Thread CPU time of the whole run (read at start and end).
        public var cpuSeconds: Double
        /// With `timeSides`: thread CPU time of each side (its terminal, UDPTL encoding and
        /// decoding), including the clock reads; 0 otherwise.
        public var senderCPUSeconds: Double
        public var receiverCPUSeconds: Double
        /// With `timeSides`: the most thread CPU time one side took in a single 20 ms tick (its
        /// terminal and UDPTL work in that tick), and the tick it happened in; 0 otherwise.
        public var senderMaxTickCPUSeconds: Double
        public var receiverMaxTickCPUSeconds: Double
        public var senderMaxTick: Int
        public var receiverMaxTick: Int
        /// The receiver's spandsp page buffer (its decoded page image) sampled after every tick:
        /// the largest seen and the number of ticks it held one at all.
        public var receiverPageBufferMaxBytes: Int
        public var receiverPageBufferTicks: Int
    }

    /// Sends `document` into `receivePath` over T.38 and reports both ends.
    public static func run(document: String, receivePath: String, options: FaxOptions = FaxOptions(),
                           errorCorrection: UDPTLErrorCorrection = .redundancy(depth: 3),
                           lossRate: Double = 0, seed: UInt64 = 1, maxSeconds: Double = 600,
                           timeSides: Bool = false) throws -> Outcome {
        let clock = SideClock(enabled: timeSides)
        let toReceiver = Link(errorCorrection: errorCorrection, lossRate: lossRate, seed: seed)
        let toSender = Link(errorCorrection: errorCorrection, lossRate: lossRate, seed: seed &+ 7)
        let session = T38Session(maxIFPSize: toReceiver.encoder.recommendedIFPSize)
        let sender = try T38FaxTerminal(job: .send(path: document), callingParty: true, options: options,
                                        session: session, sink: toReceiver)
        let receiver = try T38FaxTerminal(job: .receive(path: receivePath), callingParty: false, options: options,
                                          session: session, sink: toSender)
        var senderDecoder = UDPTLDecoder()
        var receiverDecoder = UDPTLDecoder()
        var ticks = 0
        var tail = 0
        var senderNanos: UInt64 = 0, receiverNanos: UInt64 = 0
        var senderMax = TickMaximum(), receiverMax = TickMaximum()
        var decodeFailures = 0
        var pageBufferMax = 0, pageBufferTicks = 0
        let started = ThreadCPUClock.nanoseconds()
        while Double(ticks) < maxSeconds * 50 {
            sender.waitForPreparedPages()
            let t0 = clock.now()
            sender.advance(samples: 160)
            let t1 = clock.now()
            receiver.advance(samples: 160)
            let t1b = clock.now()
            var receiverTick = t1b - t1
            var senderTick = t1 - t0
            let t2 = clock.now()
            for datagram in toReceiver.queue {
                datagram.withUnsafeBytes { bytes in
                    do {
                        try receiverDecoder.receive(bytes) { seq, ifp in receiver.receiveIFP(ifp, sequence: seq) }
                    } catch {
                        decodeFailures += 1
                    }
                }
            }
            toReceiver.queue.removeAll(keepingCapacity: true)
            let t3 = clock.now()
            receiverTick += t3 - t2
            for datagram in toSender.queue {
                datagram.withUnsafeBytes { bytes in
                    do {
                        try senderDecoder.receive(bytes) { seq, ifp in sender.receiveIFP(ifp, sequence: seq) }
                    } catch {
                        decodeFailures += 1
                    }
                }
            }
            toSender.queue.removeAll(keepingCapacity: true)
            senderTick += clock.now() - t3
            senderNanos += senderTick
            receiverNanos += receiverTick
            let held = receiver.pageBufferBytes
            pageBufferMax = max(pageBufferMax, held)
            if held > 0 { pageBufferTicks += 1 }
            senderMax.note(senderTick, tick: ticks)
            receiverMax.note(receiverTick, tick: ticks)
            ticks += 1
            if sender.isComplete && receiver.isComplete { break }
            if sender.isComplete || receiver.isComplete {
                tail += 1
                if tail > 50 * 30 { break }
            }
        }
        return Outcome(sender: sender.hangUp(),
                       receiver: receiver.hangUp(),
                       seconds: Double(ticks) / 50, datagrams: toReceiver.sent + toSender.sent,
                       dropped: toReceiver.dropped + toSender.dropped,
                       recoveredByRedundancy: senderDecoder.statistics.recoveredByRedundancy + receiverDecoder.statistics.recoveredByRedundancy,
                       udptlFailures: toReceiver.encodeFailures + toSender.encodeFailures + decodeFailures,
                       cpuSeconds: Double(ThreadCPUClock.nanoseconds() - started) / 1e9,
                       senderCPUSeconds: Double(senderNanos) / 1e9, receiverCPUSeconds: Double(receiverNanos) / 1e9,
                       senderMaxTickCPUSeconds: senderMax.seconds, receiverMaxTickCPUSeconds: receiverMax.seconds,
                       senderMaxTick: senderMax.tick, receiverMaxTick: receiverMax.tick,
                       receiverPageBufferMaxBytes: pageBufferMax, receiverPageBufferTicks: pageBufferTicks)
    }
}
