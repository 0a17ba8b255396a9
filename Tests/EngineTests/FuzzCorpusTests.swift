import ChildProcess
import FaxdTesting
import Foundation
import Testing

/// Every input in fixtures/fuzz (the seeds and the crashes faxd-fuzz found, kept as regressions)
/// goes through its parser in the plain build on every test run; `scripts/fuzz` explores further.
@Suite struct FuzzCorpusTests {
    @Test(arguments: ["sdp", "udptl", "rtp", "multipart", "tiff", "sip-helpers", "t30"])
    func theCorpusReplaysWithoutACrash(target: String) throws {
        let fuzzer = try #require(FaxdProcess.sibling("faxd-fuzz"), "faxd-fuzz is built with the tests")
        let run = try ChildProcess.run(fuzzer, [target, Fixtures.path("fuzz/\(target)")])
        #expect(run.status == 0, "\(target): \(run.stdout) \(run.stderr.suffix(2000))")
        let inputs = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("fuzz/\(target)")).count
        #expect(run.stdout.contains("\(target): \(inputs) inputs replayed without a crash"), "\(run.stdout)")
    }
}
