import SIP
import Testing

@Suite("SDP golden fixtures")
struct SDPGoldenTests {
    @Test("faxd's answer matches NAME.out.sdp", arguments: SDPFixtures.names)
    func answerMatchesGolden(name: String) throws {
        let offer = try SessionDescription(parsing: SDPFixtures.text("\(name).in.sdp"))
        let expected = try SDPFixtures.text("\(name).out.sdp")
        #expect(SDPFixtures.answer(for: name, offer: offer) == expected)
    }

    @Test("parse(render(x)) == x for every input", arguments: SDPFixtures.names)
    func renderRoundTrips(name: String) throws {
        let parsed = try SessionDescription(parsing: SDPFixtures.text("\(name).in.sdp"))
        let rendered = parsed.render()
        #expect(try SessionDescription(parsing: rendered) == parsed)
        #expect(try SessionDescription(parsing: rendered).render() == rendered)
    }

    @Test("answers that are SDP parse back to themselves", arguments: SDPFixtures.names)
    func answersRoundTrip(name: String) throws {
        let expected = try SDPFixtures.text("\(name).out.sdp")
        guard !expected.hasPrefix("REJECT") else { return }
        #expect(try SessionDescription(parsing: expected).render() == expected)
    }

    @Test("render() matches NAME.render.sdp", arguments: SDPFixtures.renderNames)
    func renderMatchesGolden(name: String) throws {
        let parsed = try SessionDescription(parsing: SDPFixtures.text("\(name).in.sdp"))
        #expect(parsed.render() == (try SDPFixtures.text("\(name).render.sdp")))
    }

    @Test("every fixture file is covered by a test")
    func everyFileIsCovered() throws {
        var expected = SDPFixtures.names.flatMap { ["\($0).in.sdp", "\($0).out.sdp"] }
        expected += SDPFixtures.renderNames.map { "\($0).render.sdp" }
        #expect(try SDPFixtures.allFiles() == expected.sorted())
        #expect(SDPFixtures.names.count >= 12)
    }

    @Test("the LF-only input really has no CR and the others are CRLF")
    func lineEndingsAreAsDocumented() throws {
        #expect(!(try SDPFixtures.text("lf-only.in.sdp")).utf8.contains(0x0D))
        #expect(try SDPFixtures.text("freeswitch-audio-offer.in.sdp").contains("\r\n"))
    }
}
