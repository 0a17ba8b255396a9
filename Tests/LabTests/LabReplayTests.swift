import Fax
import FaxdTesting
import Foundation
@testable import Lab
import Store
import Testing

/// A recording fed back into a running daemon, and the daemon's own call recording of it.
@Suite struct LabReplayTests {
    @Test func replayingACleanRecordingIntoServeDeliversEveryPageAndIsRecorded() async throws {
        let ports = TestPorts.allocate()
        let txPorts = TestPorts.allocate()
        let data = Fixtures.scratchDirectory("lab-replay")
        try await FaxdProcess.run(["account", "add", "--number", "15551234567", "--record-calls", "--data-dir", data])
        let serve = try FaxdProcess(["serve", "--http-listen", "127.0.0.1:0", "--data-dir", data, "--sip-listen", "127.0.0.1:\(ports.sip)",
                                     "--rtp-ports", "\(ports.rtp.lowerBound)-\(ports.rtp.upperBound)"])
        defer { serve.signal(SIGKILL) }
        try #require(await TestPorts.waitUntilBound(udpPort: ports.sip), "faxd serve did not start listening")
        let replay = try FaxdProcess(["lab", "replay", Fixtures.path("audio/ecm-clean.wav"), "--to", "sip:15551234567@127.0.0.1:\(ports.sip)",
                                      "--caller-id", "15550001111", "--rtp-ports", "\(txPorts.rtp.lowerBound)-\(txPorts.rtp.upperBound)"])
        defer { replay.signal(SIGKILL) }
        #expect(await replay.exit(timeout: 90) == 0, "\(replay.standardError().suffix(800))")

        // The daemon recorded a completed fax with the recording's three pages.
        let store = try FaxStore(path: data + "/faxd.sqlite")
        var record: FaxTransmission?
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            record = try store.read { try $0.transmissions(direction: .inbound) }.first
            if record?.status.isFinal == true { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let t = try #require(record)
        #expect(t.status == .completed && t.pagesTransferred == 3, "\(t.status) \(t.error ?? "")")
        #expect(PageCheck.compare(sent: Fixtures.threePageLight, received: try #require(t.filePath)) == [])

        // The account records its calls: the WAV beside the fax decodes to the same dialogue and pages.
        let wav = data + "/fax_files/rx/\(t.uuid).wav"
        var exists = false
        for _ in 0..<50 where !exists {
            exists = FileManager.default.fileExists(atPath: wav)
            if !exists { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(exists, "the call recording \(wav) was written")
        let decoded = try LabDecode.run(try Recording.read(wav), file: wav, tiff: data + "/decoded.tif")
        let messages = decoded.events.filter { $0.kind == .message }.map(\.name)
        #expect(messages.contains("DIS") && messages.contains("DCS") && messages.contains("PPS-EOP") && messages.contains("DCN"), "\(messages)")
        #expect(decoded.pages == 3)
        #expect(PageCheck.compare(sent: Fixtures.threePageLight, received: data + "/decoded.tif") == [])
        serve.signal(SIGTERM)
        #expect(await serve.exit(timeout: 15) == 0)
    }
}
