import Fax
import FaxdTesting
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Lab
import Testing

/// The passive decoder against the recordings in fixtures/audio (made by scripts/make-audio-fixtures).
@Suite struct LabDecodeTests {
    static let clean = ["ecm-clean.wav", "noecm-clean.wav", "ecm-minus27dbm0.wav", "ecm-noise-50dbm0.wav"]
    static let all = clean + ["ecm-minus30dbm0.wav", "ecm-loss-0.5pct.wav"]

    func decode(_ name: String) throws -> LabDecode.Result {
        let tiff = Fixtures.scratchDirectory("lab") + "/\(name).tif"
        return try LabDecode.run(try Recording.read(Fixtures.path("audio/\(name)")), file: name, tiff: tiff)
    }

    /// True when `expected` appears in `names` in this order (other messages may come between).
    func inOrder(_ expected: [String], in names: [String]) -> Bool {
        var index = names.startIndex
        for want in expected {
            guard let found = names[index...].firstIndex(where: { $0 == want }) else { return false }
            index = names.index(after: found)
        }
        return true
    }

    @Test(arguments: clean)
    func aCleanRecordingGivesBackEveryPageAndTheT30Dialogue(name: String) throws {
        let result = try decode(name)
        let messages = result.events.filter { $0.kind == .message }.map(\.name)
        let ecm = !name.hasPrefix("noecm")
        let post = ecm ? ["PPS-MPS", "MCF", "PPS-MPS", "MCF", "PPS-EOP", "MCF"] : ["MPS", "MCF", "MPS", "MCF", "EOP", "MCF"]
        #expect(inOrder(["CSI", "DIS", "TSI", "DCS", "CFR"] + post + ["DCN"], in: messages), "\(name): \(messages)")
        #expect(result.events.contains { $0.kind == .tone && $0.name == "CNG" && $0.side == "caller" })
        #expect(result.events.contains { $0.kind == .tone && $0.name == "CED" && $0.side == "answerer" })
        let dcs = try #require(result.events.first { $0.name == "DCS" })
        #expect(dcs.detail?.contains("V.17 14400") == true && dcs.detail?.contains(ecm ? "T.6, ECM" : "T.4 2D") == true, "\(dcs.detail ?? "")")
        #expect(result.events.first { $0.name == "TSI" }?.detail == "\"15550001111\"")
        #expect(result.events.filter { $0.kind == .training }.count == 4, "TCF and three image bursts")
        #expect(result.pages == 3)
        let tiff = try #require(result.tiff)
        #expect(PageCheck.compare(sent: Fixtures.threePageLight, received: tiff) == [], "\(name): decoded pages equal the source pages")
    }

    @Test(arguments: all)
    func everyRecordingDecodes(name: String) throws {
        let result = try decode(name)
        #expect(result.channels == 2 && result.seconds > 10)
        let messages = result.events.filter { $0.kind == .message }.map(\.name)
        #expect(messages.contains("DIS") && messages.contains("DCS"), "\(name): \(messages)")
        #expect(result.events == result.events.sorted { $0.time < $1.time })
    }

    /// The -30 dBm0 call failed between spandsp's terminals; the decoder shows where: the receiver
    /// kept answering PPR while the page itself was recoverable.
    @Test func theQuietFailingCallShowsWhereItFailed() throws {
        let result = try decode("ecm-minus30dbm0.wav")
        let messages = result.events.filter { $0.kind == .message }.map(\.name)
        #expect(messages.filter { $0 == "PPR" }.count >= 3 && inOrder(["PPS-MPS", "PPR", "EOR", "ERR", "DCN"], in: messages), "\(messages)")
        #expect(result.events.contains { $0.kind == .page && $0.detail?.contains("not confirmed") == true })
    }

    @Test(arguments: all)
    func theLadderDiagramIsWellFormedSVGNamingEveryMessage(name: String) throws {
        let result = try decode(name)
        let svg = LadderDiagram.svg(result)
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(name): \(parser.parserError.map { "\($0)" } ?? "")")
        for event in result.events { #expect(svg.contains(LadderDiagram.escape(event.name)), "\(event.name) is drawn") }
        #expect(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    }

    @Test func theFixtureScriptRegeneratesAnEquivalentRecording() throws {
        let directory = Fixtures.scratchDirectory("lab-synth")
        let (recording, sender, _) = try LabSynthesize.run(document: Fixtures.threePageLight, received: directory + "/rx.tif", ecm: true,
                                                            impairments: .init())
        #expect(sender.result.isSuccess)
        try recording.write(directory + "/ecm-clean.wav", alaw: true)
        // Byte equality would tie the test to this CPU's libm (glibc picks sin/cos code per CPU);
        // the same dialogue and pages are what the fixture stands for.
        let again = try LabDecode.run(try Recording.read(directory + "/ecm-clean.wav"), file: "regenerated", tiff: directory + "/again.tif")
        let committed = try decode("ecm-clean.wav")
        #expect(again.events.map(\.name) == committed.events.map(\.name))
        #expect(abs(again.seconds - committed.seconds) < 0.5 && again.pages == 3)
    }

    @Test func badFilesAreRefusedWithTheReason() throws {
        let directory = Fixtures.scratchDirectory("lab-bad")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: directory + "/x.wav"))
        #expect { _ = try Recording.read(directory + "/x.wav") } throws: { "\($0)".contains("not a WAV file") }
        var fast = Recording(channels: [[0, 1, 2]])
        fast.sampleRate = 16000
        try fast.write(directory + "/fast.wav")
        #expect { _ = try Recording.read(directory + "/fast.wav") } throws: { "\($0)".contains("16000 Hz; fax recordings must be 8000 Hz") }
        #expect { _ = try Recording.read(directory + "/missing.wav") } throws: { "\($0)".contains("cannot read") }
        // Raw G.711 mono.
        try Data([0xD5, 0xD5, 0x55]).write(to: URL(fileURLWithPath: directory + "/tone.alaw"))
        #expect(try Recording.read(directory + "/tone.alaw").channels.count == 1)
    }
}
