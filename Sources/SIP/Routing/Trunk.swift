/// How faxd uses T.38 with a trunk (ITU-T T.38 Annex D negotiation).
public enum T38Mode: String, Sendable, Codable, CaseIterable {
    /// Never: answer T.38 re-INVITEs with 488 and stay in audio.
    case off
    /// Accept the far side's T.38 re-INVITE; never ask ourselves (default).
    case accept
    /// Accept, and also re-INVITE to T.38 ourselves.
    case request
}

/// A carrier connection: who may send us calls and how we send calls out.
public struct Trunk: Sendable, Equatable {
    /// Name used in logs, config and `faxd send --trunk`.
    public var name: String
    /// Source addresses allowed to send INVITEs on this trunk.
    public var inboundSources: [AddressRange]
    /// Where outbound INVITEs go (a loose Route), e.g. "sip:198.51.100.10:5060"; nil sends direct.
    public var outboundProxy: String?
    /// Domain for outbound Request-URIs (sip:NUMBER@domain); defaults to the proxy's host.
    public var domain: String?
    /// Digest credentials used when the carrier challenges our INVITE.
    public var username: String?
    public var password: String?
    /// Caller number and name for outbound calls.
    public var callerID: String?
    /// Concurrent calls allowed on this trunk, both directions; nil for unlimited.
    public var maxCalls: Int?
    /// Audio codecs in our order of preference (we honour the offerer's order when answering).
    public var codecs: [AudioCodec]
    /// T.38 policy.
    public var t38: T38Mode
    /// Record both directions of every audio call on this trunk (lab mode; off by default).
    public var record = false

    public init(name: String, inboundSources: [AddressRange] = [], outboundProxy: String? = nil, domain: String? = nil,
                username: String? = nil, password: String? = nil, callerID: String? = nil, maxCalls: Int? = nil,
                codecs: [AudioCodec] = [.pcmu, .pcma], t38: T38Mode = .accept) {
        self.name = name
        self.inboundSources = inboundSources
        self.outboundProxy = outboundProxy
        self.domain = domain
        self.username = username
        self.password = password
        self.callerID = callerID
        self.maxCalls = maxCalls
        self.codecs = codecs
        self.t38 = t38
    }

    /// True when `address` may send us calls on this trunk.
    public func allows(source address: String) -> Bool {
        inboundSources.contains { $0.contains(address) }
    }
}
