import Engine
import Fax
import FaxdTesting
import Testing

/// Outbound requests that cannot be dialled fail at once with a reason, before any SIP is sent.
@Suite struct OutboundSetupTests {
    @Test func aDocumentThatIsNotATIFFIsAFileError() async throws {
        let engine = try TestEngine(label: "setup")
        defer { engine.stop() }
        let notATIFF = Fixtures.path("sipp/uac_call.xml")
        let outcome = try #require(await engine.send(OutboundFax(destination: "sip:1@127.0.0.1:9", document: notATIFF,
                                                                  options: FaxOptions())))
        #expect(outcome.hangupCause == .setupFailed)
        #expect(outcome.t30Code == T30Result.fileError.rawValue, "\(outcome.t30Code) \(outcome.t30Name)")
        #expect(outcome.detail == "uac_call.xml: not a TIFF file libtiff can read", "the file's name, not its server path")
        #expect(outcome.sipStatus == 0, "nothing was dialled")
    }

    @Test func aNumberWithoutATrunkIsRefusedWithTheReason() async throws {
        let engine = try TestEngine(label: "setup-number")
        defer { engine.stop() }
        let outcome = try #require(await engine.send(OutboundFax(destination: "15551234567", document: Fixtures.threePageFine,
                                                                  options: FaxOptions())))
        #expect(outcome.hangupCause == .setupFailed)
        #expect(outcome.detail?.contains("needs a trunk") == true, "\(outcome.detail ?? "")")
    }
}
