/// The outcome of answering one offered audio stream. RFC 3264 section 6.1.
public enum AudioNegotiationResult: Sendable, Equatable {
    /// Use `codec` with the offerer's `payloadType`; echo `telephoneEvent` if offered (its events are ignored);
    /// packetise at `ptime` ms (the offer's a=ptime, else 20). RFC 3264 section 6.1, RFC 4733 section 2.
    case accepted(codec: AudioCodec, payloadType: UInt8, telephoneEvent: UInt8?, ptime: Int)
    /// Nothing usable; the caller answers 488 Not Acceptable Here. RFC 3264 section 6.
    case rejected(reason: String)
}

/// Chooses the audio codec for a G.711 fax call from an offer. RFC 3264 section 6.1.
public enum AudioNegotiation {
    /// The packetisation interval used when the offer has no a=ptime. RFC 3551 section 4.5.
    public static let defaultPtime = 20

    /// Accepts the FIRST format in the offer's order that maps to a `supported` codec (static PT 0/8 or a PCMU/PCMA
    /// rtpmap on any PT), plus a telephone-event/8000 PT if offered. Only plain RTP/AVP is accepted. RFC 3264 section 6.1.
    public static func negotiateAudio(offer: MediaDescription, supported: [AudioCodec]) -> AudioNegotiationResult {
        guard offer.kind.matches(.audio) else {
            return .rejected(reason: "m=\(offer.kind) is not an audio stream")
        }
        guard !offer.isDeclined else {
            return .rejected(reason: "the offer disabled the audio stream (port 0)")
        }
        guard asciiCaseInsensitiveEquals(offer.proto, "RTP/AVP") else {
            return .rejected(reason: "audio transport '\(offer.proto)' is not supported (faxd speaks plain RTP/AVP)")
        }
        guard !supported.isEmpty else {
            return .rejected(reason: "no audio codec is enabled locally")
        }
        let maps = offer.rtpMaps
        var chosen: (codec: AudioCodec, payloadType: UInt8)?
        for format in offer.formats {
            guard let pt = payloadType(format) else { continue }
            let codec: AudioCodec?
            if let map = maps.first(where: { $0.payloadType == pt }) {
                codec = AudioCodec(rtpMap: map)  // an explicit rtpmap wins over the static table
            } else {
                codec = AudioCodec(staticPayloadType: pt)
            }
            if let codec, supported.contains(codec) {
                chosen = (codec, pt)
                break
            }
        }
        guard let chosen else {
            let offered = offer.formats.map { describe(format: $0, maps: maps) }.joined(separator: ", ")
            let ours = supported.map { "\($0.encodingName)/\($0.clockRate)" }.joined(separator: ", ")
            return .rejected(reason: "no supported audio codec offered: offered \(offered.isEmpty ? "nothing" : offered); faxd supports \(ours)")
        }
        let telephoneEvent = offer.formats.lazy
            .compactMap(payloadType)
            .first { pt in maps.contains { $0.payloadType == pt && $0.matches("telephone-event", clockRate: 8000) } }
        return .accepted(
            codec: chosen.codec,
            payloadType: chosen.payloadType,
            telephoneEvent: telephoneEvent,
            ptime: offer.ptime ?? defaultPtime)
    }

    /// An RTP payload type 0-127 from a format token, nil otherwise. RFC 3551 section 6.
    private static func payloadType(_ format: String) -> UInt8? {
        guard isASCIIDigits(format), let pt = UInt8(format), pt <= 127 else { return nil }
        return pt
    }

    /// "G729/8000 (PT 18)" for the rejection reason, using the rtpmap or the static table. RFC 3551 section 6.
    private static func describe(format: String, maps: [RTPMap]) -> String {
        guard let pt = payloadType(format) else { return "'\(format)'" }
        if let map = maps.first(where: { $0.payloadType == pt }) {
            return "\(map.encodingName)/\(map.clockRate) (PT \(pt))"
        }
        if let name = staticNames[pt] {
            return "\(name) (PT \(pt))"
        }
        return "PT \(pt)"
    }

    /// Commonly seen static payload types, for readable rejection reasons. RFC 3551 section 6.
    private static let staticNames: [UInt8: String] = [
        0: "PCMU/8000", 3: "GSM/8000", 4: "G723/8000", 8: "PCMA/8000", 9: "G722/8000",
        13: "CN/8000", 15: "G728/8000", 18: "G729/8000",
    ]
}
