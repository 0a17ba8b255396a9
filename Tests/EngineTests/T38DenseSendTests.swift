import Engine
import FaxdTesting
import Foundation
import Testing

/// Issue 21 as a user met it: a dense 3-page A4 document (made by Ghostscript in the test, about
/// 250 KB of G4) sent over T.38 hung up mid-page with "no RTP received for 20 s", because the
/// receiver legitimately sends nothing while a page's data arrives. Real sockets on 127.0.0.1,
/// the daemon's default silence timeout; each fax is about 3 minutes of call, so the two run at
/// once (T.38 costs almost no CPU).
@Suite struct T38DenseSendTests {
    enum Path: String, CaseIterable, Sendable {
        /// `faxd send --transport t38` (the reported command), T.38 in the first INVITE.
        case t38Process
        /// Engine to engine with `auto`: audio first, then our T.38 re-INVITE after the answer.
        case auto
    }

    @Test(arguments: Path.allCases)
    func aDenseDocumentArrivesIntact(_ path: Path) async throws {
        let document = try DenseDocument.path(pages: 3)
        let receiver = try TestEngine(label: "dense-rx")
        defer { receiver.stop() }
        #expect(receiver.daemon.configuration.t38.silenceTimeoutSeconds == 20, "the default the issue met")
        let sent: FaxOutcome
        switch path {
        case .t38Process:
            let txPorts = TestPorts.allocate()
            let send = try FaxdProcess(["send", "--to", receiver.uri(number: "15551234567"), "--file", document,
                                        "--transport", "t38", "--rtp-ports", "\(txPorts.rtp.lowerBound)-\(txPorts.rtp.upperBound)"])
            let status = await send.exit(timeout: 600)
            if status == nil { send.signal(SIGKILL) }
            let json = send.standardOutput()
            sent = try JSONDecoder.faxd.decode(FaxOutcome.self, from: Data(json.utf8))
            #expect(status == 0, "faxd send exit \(String(describing: status)): \(send.standardError().suffix(2000))")
        case .auto:
            let sender = try TestEngine(label: "dense-tx")
            defer { sender.stop() }
            sent = try #require(await sender.send(OutboundFax(destination: receiver.uri(number: "15551234567"), document: document,
                                                               options: sender.daemon.configuration.fax.options,
                                                               transport: .auto), timeout: 600))
        }
        let received = try #require(await receiver.outcomes.next(count: 1, timeout: 60).first)
        #expect(sent.success && received.success,
                "\(sent.hangupCause) \(sent.detail ?? "") / \(received.hangupCause) \(received.detail ?? "")")
        #expect(sent.transport == "t38" && received.transport == "t38")
        #expect(sent.pagesTransferred == 3 && received.pagesTransferred == 3)
        #expect(PageCheck.compare(sent: document, received: try #require(received.file)) == [])
        print("dense T.38 fax (\(path.rawValue)): \(received.pagesTransferred) pages, \(received.compression), ECM \(received.ecm), \(Int(received.durationSeconds)) s")
    }
}
