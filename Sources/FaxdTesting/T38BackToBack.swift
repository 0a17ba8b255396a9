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
        private var buffer = [UInt8](repeating: 0, count: 1500)

        init(errorCorrection: UDPTLErrorCorrection, lossRate: Double, seed: UInt64) {
            encoder = UDPTLEncoder(errorCorrection: errorCorrection, maxDatagram: 400)
            loss = DeterministicLoss(rate: lossRate, seed: seed)
        }

        func sendIFP(_ ifp: UnsafeRawBufferPointer, repeatCount: Int) {
            let count = buffer.withUnsafeMutableBytes { out in (try? encoder.encode(ifp: ifp, into: out)) ?? 0 }
            guard count > 0 else { return }
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
        /// Thread CPU time of each side: its terminal and its UDPTL encoding and decoding.
        public var senderCPUSeconds: Double
        public var receiverCPUSeconds: Double
    }

    /// Sends `document` into `receivePath` over T.38 and reports both ends.
    public static func run(document: String, receivePath: String, options: FaxOptions = FaxOptions(),
                           errorCorrection: UDPTLErrorCorrection = .redundancy(depth: 3),
                           lossRate: Double = 0, seed: UInt64 = 1, maxSeconds: Double = 600) throws -> Outcome {
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
        while Double(ticks) < maxSeconds * 50 {
            let t0 = ThreadCPUClock.nanoseconds()
            sender.advance(samples: 160)
            let t1 = ThreadCPUClock.nanoseconds()
            receiver.advance(samples: 160)
            receiverNanos += ThreadCPUClock.nanoseconds() - t1
            senderNanos += t1 - t0
            let t2 = ThreadCPUClock.nanoseconds()
            for datagram in toReceiver.queue {
                datagram.withUnsafeBytes { bytes in
                    try? receiverDecoder.receive(bytes) { seq, ifp in receiver.receiveIFP(ifp, sequence: seq) }
                }
            }
            toReceiver.queue.removeAll(keepingCapacity: true)
            let t3 = ThreadCPUClock.nanoseconds()
            receiverNanos += t3 - t2
            for datagram in toSender.queue {
                datagram.withUnsafeBytes { bytes in
                    try? senderDecoder.receive(bytes) { seq, ifp in sender.receiveIFP(ifp, sequence: seq) }
                }
            }
            toSender.queue.removeAll(keepingCapacity: true)
            senderNanos += ThreadCPUClock.nanoseconds() - t3
            ticks += 1
            if sender.isComplete && receiver.isComplete { break }
            if sender.isComplete || receiver.isComplete {
                tail += 1
                if tail > 50 * 30 { break }
            }
        }
        return Outcome(sender: sender.isComplete ? sender.result! : sender.hangUp(),
                       receiver: receiver.isComplete ? receiver.result! : receiver.hangUp(),
                       seconds: Double(ticks) / 50, datagrams: toReceiver.sent + toSender.sent,
                       dropped: toReceiver.dropped + toSender.dropped,
                       recoveredByRedundancy: senderDecoder.statistics.recoveredByRedundancy + receiverDecoder.statistics.recoveredByRedundancy,
                       senderCPUSeconds: Double(senderNanos) / 1e9, receiverCPUSeconds: Double(receiverNanos) / 1e9)
    }
}
