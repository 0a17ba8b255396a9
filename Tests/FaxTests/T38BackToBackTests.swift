import Fax
import FaxdTesting
import Media
import Testing

/// spandsp's T.38 terminals through faxd's UDPTL on a manual clock.
@Suite struct T38BackToBackTests {
    @Test(arguments: [true, false])
    func threePagesOverT38(ecm: Bool) throws {
        let dir = Fixtures.scratchDirectory("t38")
        let outcome = try T38BackToBack.run(document: Fixtures.threePageFine, receivePath: dir + "/rx.tif",
                                            options: FaxOptions(ecm: ecm, stationID: "t38 sender"))
        #expect(outcome.sender.result == .ok, "\(outcome.sender.result)")
        #expect(outcome.receiver.result == .ok, "\(outcome.receiver.result)")
        #expect(outcome.receiver.pagesTransferred == 3)
        #expect(outcome.receiver.remoteStationID == "t38 sender")
        #expect(outcome.udptlFailures == 0)
        #expect(PageCheck.compare(sent: Fixtures.threePageFine, received: dir + "/rx.tif") == [])
        print("T.38 back-to-back ecm=\(ecm): \(outcome.seconds) s of call, \(outcome.datagrams) datagrams, \(outcome.sender.bitRate) bit/s")
    }

    /// DESIGN.md: one level of redundancy turns 5% loss from mostly failing to 20/20.
    @Test func redundancySurvivesFivePercentLoss() throws {
        let dir = Fixtures.scratchDirectory("t38-loss")
        var completed = 0
        var recovered = 0
        var dropped = 0
        for seed in 1...10 {
            let outcome = try T38BackToBack.run(document: Fixtures.threePageFine, receivePath: dir + "/rx\(seed).tif",
                                                errorCorrection: .redundancy(depth: 3), lossRate: 0.05, seed: UInt64(seed))
            if outcome.sender.result == .ok && outcome.receiver.pagesTransferred == 3 { completed += 1 }
            #expect(outcome.udptlFailures == 0, "loss drops datagrams; none may be malformed")
            recovered += outcome.recoveredByRedundancy
            dropped += outcome.dropped
        }
        print("T.38, redundancy 3, 5% loss: \(completed)/10 completed, \(dropped) datagrams dropped, \(recovered) IFPs recovered from redundancy")
        #expect(dropped > 0 && recovered > 0)
        #expect(completed == 10)
    }
}
