import Fax
import FaxdTesting
import Testing

/// Lost audio must reach spandsp as fax_rx_fillin, not as silence (DESIGN.md). Deterministic loss on
/// the terminal-to-terminal link, 20 faxes per strategy, same seeds for both.
@Suite struct FillInTests {
    static func successes(rate: Double, fillIn: Bool, runs: Int = 20) throws -> (ok: Int, failures: [Int: Int]) {
        var ok = 0
        var failures: [Int: Int] = [:]
        for seed in 1...runs {
            var loss = DeterministicLoss(rate: rate, seed: UInt64(seed))
            let dir = Fixtures.scratchDirectory("fillin")
            let sender = try AudioFaxTerminal(job: .send(path: Fixtures.threePageFine), callingParty: true, options: FaxOptions())
            let receiver = try AudioFaxTerminal(job: .receive(path: dir + "/rx.tif"), callingParty: false, options: FaxOptions())
            let outcome = AudioBackToBack.run(sender: sender, receiver: receiver) { frame, _, _ in
                guard loss.drop() else { return true }
                if fillIn { return false }
                frame.update(repeating: 0)
                return true
            }
            if outcome.sender.result == .ok && outcome.receiver.pagesTransferred == 3 {
                ok += 1
            } else {
                failures[outcome.receiver.result.rawValue, default: 0] += 1
            }
        }
        return (ok, failures)
    }

    @Test func fillInBeatsSilenceAtHalfAPercentLoss() throws {
        let fill = try Self.successes(rate: 0.005, fillIn: true)
        let zeros = try Self.successes(rate: 0.005, fillIn: false)
        print("0.5% loss, 20 faxes: fax_rx_fillin \(fill.ok)/20 (failures by T.30 code \(fill.failures)), silence \(zeros.ok)/20 (\(zeros.failures))")
        #expect(fill.ok > zeros.ok)
    }

    @Test func tenthOfAPercentLossMostlyCompletes() throws {
        let fill = try Self.successes(rate: 0.001, fillIn: true)
        print("0.1% loss, 20 faxes: fax_rx_fillin \(fill.ok)/20 (failures by T.30 code \(fill.failures))")
        #expect(fill.ok >= 16)
    }
}
