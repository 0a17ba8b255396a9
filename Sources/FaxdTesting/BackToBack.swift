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
        /// Thread CPU time of the whole run, read twice (at start and end).
        public var cpuSeconds: Double
        /// With `timeSides`: thread CPU time each terminal took (its transmit, receive and fill-in
        /// calls), including the clock reads around them (four per 20 ms step); 0 otherwise.
        public var senderCPUSeconds: Double
        public var receiverCPUSeconds: Double
        /// With `timeSides`: the most thread CPU time one terminal took in a single 20 ms step; 0 otherwise.
        public var senderMaxTickCPUSeconds: Double
        public var receiverMaxTickCPUSeconds: Double
    }

    /// A link between the terminals: gets each frame and may mutate it or drop it (return false).
    public typealias Link = (_ frame: UnsafeMutableBufferPointer<Int16>, _ direction: Int, _ index: Int) -> Bool

    public static func run(sender: AudioFaxTerminal, receiver: AudioFaxTerminal,
                           maxSeconds: Double = 600, timeSides: Bool = false, link: Link? = nil) -> Outcome {
        let clock = SideClock(enabled: timeSides)
        let started = ThreadCPUClock.nanoseconds()
        let frame = 160
        var a = [Int16](repeating: 0, count: frame)
        var b = [Int16](repeating: 0, count: frame)
        var steps = 0
        let maxSteps = Int(maxSeconds * 50)
        // Keep running briefly after one side finishes so the other sees the DCN.
        var tail = 0
        var senderNanos: UInt64 = 0, receiverNanos: UInt64 = 0
        var senderMax = TickMaximum(), receiverMax = TickMaximum()
        while steps < maxSteps {
            let senderBefore = senderNanos, receiverBefore = receiverNanos
            sender.waitForPreparedPages()
            a.withUnsafeMutableBufferPointer { buf in
                let t0 = clock.now()
                sender.transmit(into: buf)
                let t1 = clock.now()
                let pass = link?(buf, 0, steps) ?? true
                let t2 = clock.now()
                if pass { receiver.receive(buf) } else { receiver.fillIn(frame) }
                let t3 = clock.now()
                senderNanos += t1 - t0
                receiverNanos += t3 - t2
            }
            b.withUnsafeMutableBufferPointer { buf in
                let t0 = clock.now()
                receiver.transmit(into: buf)
                let t1 = clock.now()
                let pass = link?(buf, 1, steps) ?? true
                let t2 = clock.now()
                if pass { sender.receive(buf) } else { sender.fillIn(frame) }
                let t3 = clock.now()
                receiverNanos += t1 - t0
                senderNanos += t3 - t2
            }
            senderMax.note(senderNanos - senderBefore, tick: steps)
            receiverMax.note(receiverNanos - receiverBefore, tick: steps)
            steps += 1
            if sender.isComplete && receiver.isComplete { break }
            if sender.isComplete || receiver.isComplete {
                tail += 1
                if tail > 50 * 30 { break }
            }
        }
        let s = sender.hangUp()
        let r = receiver.hangUp()
        return Outcome(sender: s, receiver: r, senderTones: sender.tones, receiverTones: receiver.tones,
                       seconds: Double(steps) / 50,
                       cpuSeconds: Double(ThreadCPUClock.nanoseconds() - started) / 1e9,
                       senderCPUSeconds: Double(senderNanos) / 1e9,
                       receiverCPUSeconds: Double(receiverNanos) / 1e9,
                       senderMaxTickCPUSeconds: senderMax.seconds, receiverMaxTickCPUSeconds: receiverMax.seconds)
    }
}
