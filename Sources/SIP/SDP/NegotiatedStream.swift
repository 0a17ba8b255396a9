/// The one stream of an SDP exchange faxd runs a call on: G.711 audio or T.38 fax. RFC 3264 section 6, ITU-T T.38 Annex D.
public enum NegotiatedStream: Sendable, Equatable {
    /// An RTP audio stream carrying G.711. RFC 3264 section 6.1.
    case audio(NegotiatedAudio)
    /// An `m=image udptl t38` stream. ITU-T T.38 Annex D.
    case image(NegotiatedImage)

    /// The index of the m= line it came from; the answer accepts that line and declines the others. RFC 3264 section 6.
    public var index: Int {
        switch self {
        case .audio(let audio): audio.index
        case .image(let image): image.index
        }
    }

    /// The direction the peer stated for it (c=0.0.0.0 read as sendonly); an answer states `direction.answer`. RFC 3264 section 6.1.
    public var direction: SDPDirection {
        switch self {
        case .audio(let audio): audio.direction
        case .image(let image): image.direction
        }
    }
}

/// An audio stream both sides can run: the codec at the peer's payload type and where to send. RFC 3264 section 6.1.
public struct NegotiatedAudio: Sendable, Equatable {
    /// The m= line it came from. RFC 3264 section 6.
    public var index: Int
    /// The G.711 law chosen: the first offered format faxd supports. RFC 3264 section 6.1.
    public var codec: AudioCodec
    /// The peer's payload type for `codec`, used in both directions. RFC 3264 section 6.1.
    public var payloadType: UInt8
    /// The peer's telephone-event payload type, echoed in an answer; its events are ignored. RFC 4733 section 2.
    public var telephoneEvent: UInt8?
    /// The peer's a=ptime, else 20, echoed in an answer. RFC 3264 section 6.1, RFC 8866 section 6.4.
    public var ptime: Int
    /// The peer's media address (c= in force for the stream). RFC 8866 section 5.7.
    public var remoteHost: String
    /// The peer's RTP port. RFC 8866 section 5.14.
    public var remotePort: UInt16
    /// The peer's direction; the RFC 2543 hold address c=0.0.0.0 counts as sendonly. RFC 3264 section 8.4.
    public var direction: SDPDirection

    /// Creates a negotiated audio stream. RFC 3264 section 6.1.
    public init(index: Int, codec: AudioCodec, payloadType: UInt8, telephoneEvent: UInt8?, ptime: Int,
                remoteHost: String, remotePort: UInt16, direction: SDPDirection) {
        self.index = index
        self.codec = codec
        self.payloadType = payloadType
        self.telephoneEvent = telephoneEvent
        self.ptime = ptime
        self.remoteHost = remoteHost
        self.remotePort = remotePort
        self.direction = direction
    }
}

/// A T.38 stream both sides can run: the peer's parameters, the agreed ones and where to send. ITU-T T.38 Annex D.
public struct NegotiatedImage: Sendable, Equatable {
    /// The m= line it came from. RFC 3264 section 6.
    public var index: Int
    /// The peer's own parameters; its T38FaxMaxDatagram bounds what faxd may send. ITU-T T.38 Annex D.
    public var remote: T38Parameters
    /// What both sides run with (`T38Parameters.negotiateT38`). ITU-T T.38 Annex D.
    public var agreed: T38Parameters
    /// The peer's spelling of the transport ("udptl" or "UDPTL"), echoed in an answer. ITU-T T.38 Annex D.
    public var proto: String
    /// The peer's media address (c= in force for the stream). RFC 8866 section 5.7.
    public var remoteHost: String
    /// The peer's UDPTL port. RFC 8866 section 5.14.
    public var remotePort: UInt16
    /// The peer's direction; the RFC 2543 hold address c=0.0.0.0 counts as sendonly. RFC 3264 section 8.4.
    public var direction: SDPDirection

    /// Creates a negotiated image stream. ITU-T T.38 Annex D.
    public init(index: Int, remote: T38Parameters, agreed: T38Parameters, proto: String,
                remoteHost: String, remotePort: UInt16, direction: SDPDirection) {
        self.index = index
        self.remote = remote
        self.agreed = agreed
        self.proto = proto
        self.remoteHost = remoteHost
        self.remotePort = remotePort
        self.direction = direction
    }

    /// The largest UDPTL datagram faxd may send: the peer's T38FaxMaxDatagram (never raised), 400 when absent or
    /// nonsense, at most 1400 so it fits an Ethernet MTU. ITU-T T.38 Annex D.
    public var farMaxDatagram: Int {
        guard let stated = remote.maxDatagram, stated > 0 else { return 400 }
        return min(stated, 1400)
    }
}
