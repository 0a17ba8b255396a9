import SIP
import Testing

@Suite("T.38 parameters")
struct T38ParametersTests {
    private func attributes(_ lines: [String]) -> [SDPAttribute] {
        lines.map { text in
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            return SDPAttribute(name: parts[0], value: parts.count > 1 ? parts[1] : nil)
        }
    }

    @Test("a carrier offer with every attribute")
    func fullOffer() throws {
        let sdp = try SessionDescription(parsing: SDPFixtures.text("t38-carrier-offer.in.sdp"))
        #expect(T38Parameters(media: sdp.media[0]) == T38Parameters(
            version: 0, maxBitRate: 14400, rateManagement: .transferredTCF, maxBuffer: 262, maxDatagram: 176,
            udpErrorCorrection: .redundancy, fillBitRemoval: true, transcodingMMR: true, transcodingJBIG: true))
    }

    @Test("broken booleans, lower-case names and the T38MaxDatagram alias")
    func brokenBooleans() throws {
        let sdp = try SessionDescription(parsing: SDPFixtures.text("t38-broken-booleans.in.sdp"))
        #expect(T38Parameters(media: sdp.media[0]) == T38Parameters(
            version: 0, maxBitRate: 9600, rateManagement: .transferredTCF, maxBuffer: 200, maxDatagram: 320,
            udpErrorCorrection: .redundancy, fillBitRemoval: true, transcodingMMR: false, transcodingJBIG: false))
    }

    @Test("boolean forms", arguments: [
        (nil, true), ("1", true), ("0", false), ("true", true), ("FALSE", false), (" 0 ", false),
    ] as [(String?, Bool)])
    func booleanForms(value: String?, expected: Bool) {
        let parsed = T38Parameters(attributes: [SDPAttribute(name: "T38FaxTranscodingJBIG", value: value)])
        #expect(parsed.transcodingJBIG == expected)
    }

    @Test("absent attributes give the defaults; unreadable values are ignored")
    func defaultsAndNonsense() {
        #expect(T38Parameters(attributes: []) == T38Parameters())
        #expect(T38Parameters() == T38Parameters(
            version: 0, maxBitRate: nil, rateManagement: .transferredTCF, maxBuffer: nil, maxDatagram: nil,
            udpErrorCorrection: .none, fillBitRemoval: false, transcodingMMR: false, transcodingJBIG: false))
        let parsed = T38Parameters(attributes: attributes([
            "T38FaxVersion:x", "T38MaxBitRate:-1", "T38FaxRateManagement:magic", "T38FaxUdpEC:t38UDPMagic", "T38FaxMaxDatagram",
        ]))
        #expect(parsed == T38Parameters())
    }

    @Test("enum values ignore case; FEC and localTCF are read")
    func enumValues() {
        let parsed = T38Parameters(attributes: attributes(["T38FAXUDPEC:T38udpfec", "T38FaxRateManagement:LOCALTCF", "T38FaxVersion:3"]))
        #expect(parsed.udpErrorCorrection == .fec)
        #expect(parsed.rateManagement == .localTCF)
        #expect(parsed.version == 3)
    }

    @Test("attributes() uses the standard form and round-trips")
    func rendering() {
        let full = T38Parameters(
            version: 2, maxBitRate: 14400, rateManagement: .transferredTCF, maxBuffer: 2000, maxDatagram: 400,
            udpErrorCorrection: .redundancy, fillBitRemoval: true, transcodingMMR: false, transcodingJBIG: true)
        #expect(full.attributes().map(\.fieldValue) == [
            "T38FaxVersion:2", "T38MaxBitRate:14400", "T38FaxFillBitRemoval", "T38FaxTranscodingJBIG",
            "T38FaxRateManagement:transferredTCF", "T38FaxMaxBuffer:2000", "T38FaxMaxDatagram:400",
            "T38FaxUdpEC:t38UDPRedundancy",
        ])
        #expect(T38Parameters().attributes().map(\.fieldValue) == [
            "T38FaxVersion:0", "T38FaxRateManagement:transferredTCF", "T38FaxUdpEC:t38UDPNoEC",
        ])
        for parameters in [full, T38Parameters(), T38Parameters(rateManagement: .localTCF, udpErrorCorrection: .fec, transcodingMMR: true)] {
            #expect(T38Parameters(attributes: parameters.attributes()) == parameters)
        }
    }

    @Test("error correction answer", arguments: [
        (T38Parameters.UDPErrorCorrection.fec, T38Parameters.UDPErrorCorrection.fec, T38Parameters.UDPErrorCorrection.fec),
        (.fec, .redundancy, .redundancy),
        (.fec, .none, .none),
        (.redundancy, .fec, .redundancy),
        (.redundancy, .redundancy, .redundancy),
        (.redundancy, .none, .none),
        (.none, .fec, .none),
        (.none, .redundancy, .none),
        (.none, .none, .none),
    ])
    func errorCorrection(offered: T38Parameters.UDPErrorCorrection, local: T38Parameters.UDPErrorCorrection, answer: T38Parameters.UDPErrorCorrection) {
        let negotiated = T38Parameters.negotiateT38(
            offer: T38Parameters(udpErrorCorrection: offered), local: T38Parameters(udpErrorCorrection: local))
        #expect(negotiated.udpErrorCorrection == answer)
    }

    @Test("version and bit rate take the minimum; rate management echoes; buffers are ours; booleans need both")
    func negotiation() {
        let offer = T38Parameters(
            version: 3, maxBitRate: 33600, rateManagement: .localTCF, maxBuffer: 262, maxDatagram: 176,
            udpErrorCorrection: .redundancy, fillBitRemoval: true, transcodingMMR: true, transcodingJBIG: false)
        let local = T38Parameters(
            version: 0, maxBitRate: 14400, rateManagement: .transferredTCF, maxBuffer: 2000, maxDatagram: 400,
            udpErrorCorrection: .fec, fillBitRemoval: true, transcodingMMR: false, transcodingJBIG: true)
        #expect(T38Parameters.negotiateT38(offer: offer, local: local) == T38Parameters(
            version: 0, maxBitRate: 14400, rateManagement: .localTCF, maxBuffer: 2000, maxDatagram: 400,
            udpErrorCorrection: .redundancy, fillBitRemoval: true, transcodingMMR: false, transcodingJBIG: false))
    }

    @Test("a missing bit rate on one side leaves the other's")
    func bitRateNil() {
        #expect(T38Parameters.negotiateT38(offer: T38Parameters(), local: T38Parameters(maxBitRate: 14400)).maxBitRate == 14400)
        #expect(T38Parameters.negotiateT38(offer: T38Parameters(maxBitRate: 9600), local: T38Parameters()).maxBitRate == 9600)
        #expect(T38Parameters.negotiateT38(offer: T38Parameters(), local: T38Parameters()).maxBitRate == nil)
        #expect(T38Parameters.negotiateT38(offer: T38Parameters(maxDatagram: 1400), local: T38Parameters()).maxDatagram == nil)
    }
}
