import Foundation
import SIP

/// Loads the golden SDP files and holds the faxd settings the answers are made with (see Fixtures/sdp/README.md).
enum SDPFixtures {
    /// Every fixture with a `.in.sdp` / `.out.sdp` pair.
    static let names = [
        "freeswitch-audio-offer", "asterisk-audio-offer", "carrier-g729-first", "g729-only",
        "pcma-dynamic", "hold-reinvite", "t38-carrier-offer", "t38-broken-booleans", "t38-fec",
        "audio-and-image", "lf-only", "ice-rtcp", "srtp-offer", "session-misc-unordered",
        "audio-ptime-40", "bounded-timing", "t38-sendonly", "t38-recvonly", "t38-inactive",
    ]

    /// Fixtures that also have a `.render.sdp` golden.
    static let renderNames = ["lf-only", "ice-rtcp", "session-misc-unordered"]

    /// Fixtures answered as re-INVITEs: our origin version is bumped once.
    static let reinvites: Set<String> = [
        "hold-reinvite", "t38-carrier-offer", "t38-broken-booleans", "t38-fec", "t38-sendonly", "t38-recvonly", "t38-inactive",
    ]

    static var directory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/sdp", isDirectory: true)
    }

    static func text(_ file: String) throws -> String {
        let data = try Data(contentsOf: directory.appendingPathComponent(file))
        return String(decoding: data, as: UTF8.self)
    }

    static func allFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sdp") }.sorted()
    }

    static let origin = SDPOrigin(username: "faxd", sessionID: 1_700_000_000, sessionVersion: 1, address: "203.0.113.10")

    static let localT38 = T38Parameters(
        version: 0, maxBitRate: 14400, rateManagement: .transferredTCF,
        maxBuffer: 2000, maxDatagram: 400, udpErrorCorrection: .fec)

    /// faxd's answer to a fixture through `SDPNegotiator` (what the orchestrator runs), rendered, or
    /// "REJECT <status> <reason>\r\n". Audio is answered on port 30000, T.38 on 30002.
    static func answer(for name: String, offer: SessionDescription) -> String {
        var origin = origin
        if reinvites.contains(name) { origin.bumpVersion() }
        do {
            let agreement = try SDPNegotiator.negotiate(offer: offer, local: SDPCapabilities(codecs: [.pcmu, .pcma], t38: localT38))
            let port: UInt16 = if case .image = agreement.stream { 30002 } else { 30000 }
            return agreement.answer(origin: origin, address: "203.0.113.10", port: port).render()
        } catch {
            return "REJECT \(error.statusCode) \(error.reason)\r\n"
        }
    }
}
