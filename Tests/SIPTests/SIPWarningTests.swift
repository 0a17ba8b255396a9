import SIP
import Testing

@Suite struct SIPWarningTests {
    @Test func quotesTheReason() {
        #expect(SIPWarning.header("source address 10.0.0.1 is not allowed") ==
                "Warning: 399 faxd \"source address 10.0.0.1 is not allowed\"")
    }

    /// Text quoted from a far end's SDP cannot break out of the header.
    @Test func controlBytesAndQuotesCannotEndTheHeader() {
        let hostile = "m=audio 1 RTP/AVP 18\r\nX-Injected: yes\r\n\r\nbody \"q\" \\ \u{7F}"
        let header = SIPWarning.header(hostile)
        #expect(!header.contains("\r") && !header.contains("\n") && !header.contains("\u{7F}"))
        #expect(header.dropFirst("Warning: 399 faxd \"".count).dropLast().allSatisfy { $0 != "\"" && $0 != "\\" })
        #expect(header.hasSuffix("\""))
    }

    @Test func longTextIsCapped() {
        let header = SIPWarning.header(String(repeating: "x", count: 5000))
        #expect(header.count == "Warning: 399 faxd \"\"".count + 200)
    }
}
