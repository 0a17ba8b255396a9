/// An opaque reference to one sofia-sip dialog handle (nua_handle_t). Only meaningful on the agent
/// thread and only until the agent destroys it.
public struct SIPHandle: Hashable, Sendable, CustomStringConvertible {
    let raw: UInt
    init(_ pointer: UnsafeMutableRawPointer) { raw = UInt(bitPattern: pointer) }
    var pointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: raw)! }
    /// A handle that refers to no dialog: for calls that failed before any SIP was sent.
    public static let none = SIPHandle(raw: 0)
    private init(raw: UInt) { self.raw = raw }
    public var description: String { "nh#" + String(raw, radix: 16) }
}

/// What happened, as sofia-sip's nua reports it, flattened to Swift values (sofia: nua_event_t).
public struct SIPEvent: Sendable {
    /// The kinds faxd acts on.
    public enum Kind: Sendable, Equatable {
        case incomingInvite, incomingAck, incomingBye, incomingCancel, incomingOptions, incomingUpdate, incomingInfo
        case stateChanged, terminated
        case inviteResponse, byeResponse, cancelResponse, shutdownResponse
        case error, other
    }

    /// Dialog state after a `stateChanged` event (sofia: enum nua_callstate).
    public enum CallState: Int, Sendable {
        case initial = 0, authenticating, calling, proceeding, completing, received, early, completed, ready, terminating, terminated
    }

    public var kind: Kind
    /// sofia's event name, for logs ("nua_i_invite").
    public var name: String
    public var status: Int
    public var phrase: String
    public var handle: SIPHandle?
    public var callState: CallState?
    public var callID: String?
    public var cseqMethod: String?
    public var requestURI: String?
    /// The Request-URI user part, raw (see `PhoneNumber.normalize` for the DID).
    public var requestUser: String?
    public var fromURI: String?
    public var fromUser: String?
    public var fromDisplay: String?
    public var toURI: String?
    public var toUser: String?
    public var contentType: String?
    public var body: String?
    /// Packet source of a request, numeric.
    public var sourceAddress: String?
    public var sourcePort: Int
    /// "UDP" or "TCP" from the top Via.
    public var transport: String?
    /// Realm of a 401/407 challenge.
    public var authRealm: String?
    public var authScheme: String?

    /// True when the body is SDP.
    public var hasSDP: Bool {
        guard let body, !body.isEmpty else { return false }
        return contentType.map { $0.lowercased().hasPrefix("application/sdp") } ?? true
    }
}
