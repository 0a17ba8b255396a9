import Fax
import Media
import Foundation

/// Makes a fixture recording with faxd's own terminals: a sending and a receiving spandsp terminal
/// back to back in 20 ms steps (no sockets, no wall clock), with the caller's line on channel 0
/// and the answerer's on channel 1, as heard after the impairments (level, noise, lost frames).
public enum LabSynthesize {
    public struct Impairments: Sendable {
        /// Gain applied to both directions, dB (-20 turns faxd's about -10 dBm0 into about -30 dBm0).
        public var gainDB = 0.0
        /// White noise added, dBm0 (nil: none).
        public var noiseDBm0: Double?
        /// Share of 20 ms frames lost (replaced by silence) in each direction.
        public var loss = 0.0
        public var seed: UInt64 = 1
        public init() {}
    }

    /// Runs a fax of `document`; returns the recording and both sides' results.
    public static func run(document: String, received: String, ecm: Bool, impairments: Impairments) throws(LabError)
        -> (recording: Recording, sender: FaxTransferResult, receiver: FaxTransferResult) {
        var options = FaxOptions()
        options.ecm = ecm
        options.stationID = "15550001111"
        let sender: AudioFaxTerminal, receiver: AudioFaxTerminal
        do {
            sender = try AudioFaxTerminal(job: .send(path: document), callingParty: true, options: options)
            var rx = options
            rx.stationID = "15551234567"
            receiver = try AudioFaxTerminal(job: .receive(path: received), callingParty: false, options: rx)
        } catch {
            throw LabError(error.reason)
        }
        var random = SplitMix64(seed: impairments.seed)
        let gain = pow(10, impairments.gainDB / 20)
        // dBm0 to RMS in 16-bit linear: 0 dBm0 is 3.14 dBov below a full-scale sine for mu-law.
        let noiseRMS = impairments.noiseDBm0.map { 32767 / sqrt(2) * pow(10, ($0 - 3.14) / 20) }
        var channels: [[Int16]] = [[], []]
        var frame = [Int16](repeating: 0, count: 160)
        var steps = 0, tail = 0
        while steps < 50 * 300 {
            for direction in 0..<2 {
                let (from, to) = direction == 0 ? (sender, receiver) : (receiver, sender)
                frame.withUnsafeMutableBufferPointer { from.transmit(into: $0) }
                let lost = impairments.loss > 0 && random.nextUnit() < impairments.loss
                for i in 0..<160 {
                    var v = lost ? 0 : Double(frame[i]) * gain
                    if let noiseRMS { v += random.nextGaussian() * noiseRMS }
                    frame[i] = Int16(max(-32768, min(32767, v.rounded())))
                }
                channels[direction] += frame
                frame.withUnsafeBufferPointer { to.receive(UnsafeMutableBufferPointer(mutating: $0)) }
            }
            steps += 1
            if sender.isComplete && receiver.isComplete { break }
            if sender.isComplete || receiver.isComplete {
                tail += 1
                if tail > 50 * 5 { break }
            }
        }
        return (Recording(channels: channels), sender.hangUp(), receiver.hangUp())
    }
}

extension SplitMix64 {
    /// A standard normal value (Box-Muller), for line noise.
    mutating func nextGaussian() -> Double {
        let u1 = max(nextUnit(), 1e-12), u2 = nextUnit()
        return sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
    }
}
