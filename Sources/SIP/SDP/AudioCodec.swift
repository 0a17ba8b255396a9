/// The G.711 codecs faxd sends fax audio with. ITU-T G.711, RFC 3551 section 4.5.14.
public enum AudioCodec: Sendable, Equatable, Hashable, CaseIterable {
    /// G.711 mu-law, static payload type 0. RFC 3551 section 6.
    case pcmu
    /// G.711 A-law, static payload type 8. RFC 3551 section 6.
    case pcma

    /// The static RTP payload type: 0 for PCMU, 8 for PCMA. RFC 3551 section 6.
    public var staticPayloadType: UInt8 {
        switch self {
        case .pcmu: 0
        case .pcma: 8
        }
    }

    /// The rtpmap encoding name, "PCMU" or "PCMA". RFC 3551 section 4.5.14.
    public var encodingName: String {
        switch self {
        case .pcmu: "PCMU"
        case .pcma: "PCMA"
        }
    }

    /// The RTP clock rate, 8000 Hz. RFC 3551 section 4.5.14.
    public var clockRate: Int { 8000 }

    /// The codec for a static payload type (0 or 8), nil otherwise. RFC 3551 section 6.
    public init?(staticPayloadType: UInt8) {
        switch staticPayloadType {
        case 0: self = .pcmu
        case 8: self = .pcma
        default: return nil
        }
    }

    /// The codec an rtpmap names ("PCMU/8000" or "PCMA/8000", any case, mono), whatever its payload type. RFC 8866 section 6.6.
    public init?(rtpMap: RTPMap) {
        guard let codec = Self.allCases.first(where: { rtpMap.matches($0.encodingName, clockRate: $0.clockRate) }) else {
            return nil
        }
        self = codec
    }

    /// The rtpmap entry announcing this codec at `payloadType` (its static one by default). RFC 8866 section 6.6.
    public func rtpMap(payloadType: UInt8? = nil) -> RTPMap {
        RTPMap(payloadType: payloadType ?? staticPayloadType, encodingName: encodingName, clockRate: clockRate)
    }
}
