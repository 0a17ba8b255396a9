import SIP
import Testing

/// Taking apart Request-URIs and offer bodies from the wire.
@Suite struct SIPURIAndOfferTests {
    @Test func uriPieces() {
        #expect(SIPURI.hostPort("sip:15551234567@Fax.Example.com:5070;transport=tcp") == "Fax.Example.com:5070")
        #expect(SIPURI.host("sip:15551234567@Fax.Example.com:5070;transport=tcp") == "fax.example.com")
        #expect(SIPURI.host("sip:1@[2001:DB8::1]:5060") == "2001:db8::1")
        #expect(SIPURI.host("sip:example.com") == "example.com")
        #expect(SIPURI.number("sip:+1-555-123-4567@example.com") == "15551234567")
        #expect(SIPURI.number("sip:user@example.com") == "user")
    }

    @Test func offersByContentType() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
        #expect(SIPEvent.offer(body: sdp, contentType: "application/sdp") == .sdp(sdp))
        #expect(SIPEvent.offer(body: sdp, contentType: nil) == .sdp(sdp), "no Content-Type: taken as SDP")
        #expect(SIPEvent.offer(body: "", contentType: "application/sdp") == SIPEvent.Offer.none)
        #expect(SIPEvent.offer(body: "<xml/>", contentType: "application/unknownformat") == .unsupported("application/unknownformat"))
        // SIP-I: SDP beside ISUP in multipart/mixed; the part comes out byte for byte.
        let multipart = "--b1\r\nContent-Type: application/ISUP;version=itu-t92+\r\n\r\n\u{01}\u{00}I\r\n"
            + "--b1\r\ncontent-type: Application/SDP\r\n\r\n\(sdp)\r\n--b1--\r\n"
        #expect(SIPEvent.offer(body: multipart, contentType: "multipart/mixed") == .sdp(sdp))
        #expect(SIPEvent.offer(body: "--b1\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b1--\r\n", contentType: "multipart/mixed")
            == .unsupported("multipart/mixed"))
    }

    @Test func acceptLists() {
        #expect(!SIPEvent.refusesSDP(accept: nil))
        #expect(!SIPEvent.refusesSDP(accept: ["application/sdp", "text/plain"]))
        #expect(!SIPEvent.refusesSDP(accept: ["*/*"]))
        #expect(!SIPEvent.refusesSDP(accept: ["application/*"]))
        #expect(SIPEvent.refusesSDP(accept: ["text/nobodyknowsthis"]))
    }
}
