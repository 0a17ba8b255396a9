import SIP
import Testing

@Suite("SDP parser")
struct SDPParserTests {
    private func parse(_ lines: [String], separator: String = "\r\n") throws(SDPError) -> SessionDescription {
        try SDPParser.parse(lines.joined(separator: separator) + separator)
    }

    private func parseError(_ text: String) -> SDPError? {
        do {
            _ = try SDPParser.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test("a FreeSWITCH offer is modelled field by field")
    func freeswitchOffer() throws {
        let sdp = try SessionDescription(parsing: SDPFixtures.text("freeswitch-audio-offer.in.sdp"))
        #expect(sdp.version == 0)
        #expect(sdp.origin == SDPOrigin(
            username: "FreeSWITCH", sessionID: 1_700_000_123, sessionVersion: 1_700_000_124,
            netType: "IN", addrType: "IP4", address: "198.51.100.20"))
        #expect(sdp.sessionName == "FreeSWITCH")
        #expect(sdp.connection == SDPConnection(netType: "IN", addrType: .ip4, address: "198.51.100.20"))
        #expect(sdp.timing == .permanent)
        #expect(sdp.media.count == 1)
        let audio = sdp.media[0]
        #expect(audio.kind == .audio)
        #expect(audio.port == 24680)
        #expect(audio.portCount == nil)
        #expect(audio.proto == "RTP/AVP")
        #expect(audio.formats == ["0", "8", "101"])
        #expect(audio.rtpMaps == [
            RTPMap(payloadType: 0, encodingName: "PCMU", clockRate: 8000),
            RTPMap(payloadType: 8, encodingName: "PCMA", clockRate: 8000),
            RTPMap(payloadType: 101, encodingName: "telephone-event", clockRate: 8000),
        ])
        #expect(audio.rtpMap(for: 8)?.encodingName == "PCMA")
        #expect(audio.rtpMap(for: 9) == nil)
        #expect(audio.fmtp(for: 101) == "0-16")
        #expect(audio.fmtp(for: 0) == nil)
        #expect(audio.ptime == 20)
        #expect(audio.direction == .sendrecv)
        #expect(audio.attributes.last == SDPAttribute(name: "rtcp", value: "24681 IN IP4 198.51.100.20"))
        #expect(sdp.connection(for: audio)?.address == "198.51.100.20")
        #expect(!sdp.isHold)
    }

    @Test("LF and CRLF bodies with trailing blanks parse to the same model")
    func lineEndings() throws {
        let lines = ["v=0", "o=- 1 2 IN IP4 192.0.2.1 ", "s=-\t", "c=IN IP4 192.0.2.1", "t=0 0", "m=audio 4000 RTP/AVP 0  "]
        let crlf = try parse(lines)
        let lf = try parse(lines, separator: "\n")
        #expect(crlf == lf)
        #expect(crlf.origin.address == "192.0.2.1")
        #expect(crlf.media[0].formats == ["0"])
        #expect(try SDPParser.parse(utf8: Array(lines.joined(separator: "\n").utf8)) == lf)
    }

    @Test("missing s= and t= are tolerated; unknown lines and attributes are kept")
    func tolerance() throws {
        let sdp = try parse([
            "v=0", "o=- 1 1 IN IP4 192.0.2.1", "c=IN IP4 192.0.2.1", "x=experimental", "a=X-vendor:1",
            "a=flag", "a=empty:", "m=audio 4000 RTP/AVP 0", "q=media-unknown", "a=rtcp-fb:* nack",
        ])
        #expect(sdp.sessionName == "-")
        #expect(sdp.timing == .permanent)
        #expect(sdp.otherFields == [SDPField(type: "x", value: "experimental")])
        #expect(sdp.attributes == [
            SDPAttribute(name: "X-vendor", value: "1"), SDPAttribute(name: "flag"), SDPAttribute(name: "empty", value: ""),
        ])
        #expect(sdp.media[0].otherFields == [SDPField(type: "q", value: "media-unknown")])
        #expect(sdp.media[0].attribute(named: "RTCP-FB")?.value == "* nack")
        #expect(try SDPParser.parse(sdp.render()) == sdp)
    }

    @Test("port counts, IPv6, several t= lines and zero formats round-trip")
    func lessCommonForms() throws {
        let sdp = try parse([
            "v=0", "o=- 1 1 IN IP6 2001:db8::1", "s=-", "c=IN IP6 2001:db8::1", "t=0 0", "r=7d 1h 0 25h", "t=3034423619 3042462419",
            "m=audio 49170/2 RTP/AVP", "m=video 0 RTP/AVP 31",
        ])
        #expect(sdp.connection?.addrType == .ip6)
        #expect(sdp.media[0].portCount == 2)
        #expect(sdp.media[0].formats.isEmpty)
        #expect(sdp.media[1].isDeclined)
        #expect(sdp.otherFields.map(\.type) == ["r", "t"])
        #expect(sdp.render().contains("t=0 0\r\nr=7d 1h 0 25h\r\nt=3034423619 3042462419\r\n"))
        #expect(sdp.render().contains("m=audio 49170/2 RTP/AVP\r\n"))
        #expect(try SDPParser.parse(sdp.render()) == sdp)
    }

    @Test("direction is inherited from the session and overridden per media")
    func directionInheritance() throws {
        let sdp = try parse([
            "v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0", "a=sendonly",
            "m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 0", "a=recvonly", "m=image 4004 udptl t38", "a=inactive",
        ])
        #expect(sdp.direction == .sendonly)
        #expect(sdp.media.map { sdp.direction(of: $0) } == [.sendonly, .recvonly, .inactive])
        #expect(sdp.media.map { sdp.isHold($0) } == [true, false, true])
        #expect(!sdp.isHold)
    }

    @Test("media-level c= overrides the session-level one")
    func effectiveConnection() throws {
        let sdp = try SessionDescription(parsing: SDPFixtures.text("t38-broken-booleans.in.sdp"))
        #expect(sdp.connection?.address == "198.51.100.50")
        #expect(sdp.connection(for: sdp.media[0])?.address == "198.51.100.51")
    }

    @Test("hold: sendonly, inactive or c=0.0.0.0; recvonly and sendrecv are not hold")
    func hold() throws {
        func held(_ connection: String, _ direction: String?) throws -> Bool {
            var lines = ["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 \(connection)", "t=0 0", "m=audio 4000 RTP/AVP 0"]
            if let direction { lines.append("a=\(direction)") }
            return try parse(lines).isHold
        }
        #expect(try held("0.0.0.0", nil))
        #expect(try held("192.0.2.1", "sendonly"))
        #expect(try held("192.0.2.1", "inactive"))
        #expect(try !held("192.0.2.1", "recvonly"))
        #expect(try !held("192.0.2.1", "sendrecv"))
        #expect(try !held("192.0.2.1", nil))
        let fixture = try SessionDescription(parsing: SDPFixtures.text("hold-reinvite.in.sdp"))
        #expect(fixture.isHold)
        #expect(fixture.isHold(fixture.media[0]))
    }

    @Test("ptime tolerates a decimal and ignores nonsense")
    func ptime() {
        func media(_ value: String) -> MediaDescription {
            MediaDescription(kind: .audio, port: 1, proto: "RTP/AVP", formats: ["0"], attributes: [SDPAttribute(name: "ptime", value: value)])
        }
        #expect(media("30").ptime == 30)
        #expect(media("20.0").ptime == 20)
        #expect(media("abc").ptime == nil)
        #expect(media("0").ptime == nil)
    }

    // MARK: Errors

    @Test("a body that does not start with v= is rejected")
    func noVersionFirst() {
        #expect(parseError("o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\n")
            == SDPError(line: 1, reason: "SDP must start with a 'v=0' line, found 'o=- 1 1 IN IP4 192.0.2.1'"))
        #expect(parseError("") == SDPError(line: 0, reason: "SDP body is empty; expected it to start with 'v=0'"))
        #expect(parseError("\r\n\r\n") == SDPError(line: 0, reason: "SDP body is empty; expected it to start with 'v=0'"))
        #expect(parseError("v=x\r\n") == SDPError(line: 1, reason: "v= line 'v=x': version 'x' is not a number"))
        #expect(parseError("hello\r\n") == SDPError(line: 1, reason: "SDP must start with a 'v=0' line, found 'hello'"))
    }

    @Test("bad m= lines and ports name the line and the token")
    func badMediaLines() {
        let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
        #expect(parseError(head + "m=audio x RTP/AVP 0\r\n")
            == SDPError(line: 4, reason: "m= line 'm=audio x RTP/AVP 0': port 'x' is not a number"))
        #expect(parseError(head + "m=audio 70000 RTP/AVP 0\r\n")
            == SDPError(line: 4, reason: "m= line 'm=audio 70000 RTP/AVP 0': port '70000' is out of range 0-65535"))
        #expect(parseError(head + "m=audio -1 RTP/AVP 0\r\n")
            == SDPError(line: 4, reason: "m= line 'm=audio -1 RTP/AVP 0': port '-1' is not a number"))
        #expect(parseError(head + "m=audio 5000\r\n")
            == SDPError(line: 4, reason: "m= line 'm=audio 5000': expected '<media> <port> <proto> <fmt> ...', found 2 field(s)"))
        #expect(parseError(head + "m=audio 5000/0 RTP/AVP 0\r\n")
            == SDPError(line: 4, reason: "m= line 'm=audio 5000/0 RTP/AVP 0': port count in '5000/0' is not a positive number"))
    }

    @Test("bad c= lines are rejected at session and media level")
    func badConnectionLines() {
        let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
        #expect(parseError(head + "c=IN IP4\r\n")
            == SDPError(line: 4, reason: "c= line 'c=IN IP4': expected '<nettype> <addrtype> <address>', found 2 field(s)"))
        #expect(parseError(head + "c=IN IPX 192.0.2.1\r\n")
            == SDPError(line: 4, reason: "c= line 'c=IN IPX 192.0.2.1': address type 'IPX' is not IP4 or IP6"))
        #expect(parseError(head + "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=192.0.2.1\r\n")
            == SDPError(line: 6, reason: "c= line 'c=192.0.2.1': expected '<nettype> <addrtype> <address>', found 1 field(s)"))
        #expect(parseError(head + "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.2\r\n")
            == SDPError(line: 6, reason: "second c= line 'c=IN IP4 192.0.2.2' in the 'audio' media section; only one is supported"))
    }

    @Test("missing or bad o=, bad b= and t=, malformed and duplicate lines")
    func otherErrors() {
        #expect(parseError("v=0\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\n")
            == SDPError(line: 0, reason: "missing o= line; every SDP body needs an origin"))
        #expect(parseError("v=0\r\no=- abc 1 IN IP4 192.0.2.1\r\n")
            == SDPError(line: 2, reason: "o= line 'o=- abc 1 IN IP4 192.0.2.1': session id 'abc' is not a number below 2^64"))
        #expect(parseError("v=0\r\no=- 1 1 IN IP4\r\n")
            == SDPError(line: 2, reason: "o= line 'o=- 1 1 IN IP4': expected '<username> <sess-id> <sess-version> <nettype> <addrtype> <address>', found 5 field(s)"))
        #expect(parseError("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\no=- 2 2 IN IP4 192.0.2.1\r\n")
            == SDPError(line: 3, reason: "second o= line 'o=- 2 2 IN IP4 192.0.2.1'; only one is allowed"))
        #expect(parseError("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nb=AS:fast\r\n")
            == SDPError(line: 3, reason: "b= line 'b=AS:fast': bandwidth 'fast' is not a number"))
        #expect(parseError("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0\r\n")
            == SDPError(line: 3, reason: "t= line 't=0': expected '<start> <stop>' as two numbers"))
        #expect(parseError("v=0\r\n\r\no=- 1 1 IN IP4 192.0.2.1\r\nhello world\r\n")
            == SDPError(line: 4, reason: "line 'hello world' is not of the form '<letter>=<value>'"))
    }

    @Test("errors describe themselves with the line number")
    func errorDescription() {
        #expect(SDPError(line: 4, reason: "m= line 'm=audio x RTP/AVP 0': port 'x' is not a number").description
            == "SDP line 4: m= line 'm=audio x RTP/AVP 0': port 'x' is not a number")
        #expect(SDPError(line: 0, reason: "missing o= line").description == "SDP: missing o= line")
    }
}
