import Fax

/// Two audio fax terminals wired back to back on a manual media clock: no sockets, no wall clock.
/// Each step moves one 20 ms frame each way; a 3-page fax costs a fraction of a second of CPU.
public struct AudioBackToBack {
    /// What happened to the two sides.
    public struct Outcome: Sendable {
        public var sender: FaxTransferResult
        public var receiver: FaxTransferResult
        public var senderTones: FaxTones
        public var receiverTones: FaxTones
        /// Simulated seconds of call.
        public var seconds: Double
    }

    /// A link between the terminals: gets each frame and may mutate it or drop it (return false).
    public typealias Link = (_ frame: UnsafeMutableBufferPointer<Int16>, _ direction: Int, _ index: Int) -> Bool

    public static func run(sender: AudioFaxTerminal, receiver: AudioFaxTerminal,
                           maxSeconds: Double = 600, link: Link? = nil) -> Outcome {
        let frame = 160
        var a = [Int16](repeating: 0, count: frame)
        var b = [Int16](repeating: 0, count: frame)
        var steps = 0
        let maxSteps = Int(maxSeconds * 50)
        // Keep running briefly after one side finishes so the other sees the DCN.
        var tail = 0
        while steps < maxSteps {
            a.withUnsafeMutableBufferPointer { buf in
                sender.transmit(into: buf)
                if link?(buf, 0, steps) ?? true { receiver.receive(buf) } else { receiver.fillIn(frame) }
            }
            b.withUnsafeMutableBufferPointer { buf in
                receiver.transmit(into: buf)
                if link?(buf, 1, steps) ?? true { sender.receive(buf) } else { sender.fillIn(frame) }
            }
            steps += 1
            if sender.isComplete && receiver.isComplete { break }
            if sender.isComplete || receiver.isComplete {
                tail += 1
                if tail > 50 * 30 { break }
            }
        }
        let s = sender.isComplete ? sender.result! : sender.hangUp()
        let r = receiver.isComplete ? receiver.result! : receiver.hangUp()
        return Outcome(sender: s, receiver: r, senderTones: sender.tones, receiverTones: receiver.tones,
                       seconds: Double(steps) / 50)
    }
}
